"""`slipway release --target aws`: publish, smoke-test, shift traffic in steps, watch, roll back.

The alias only moves after the new version answered the smoke invoke. Each step is one
guarded UpdateAlias; the whole release is one entry in the alias's history, so a later
`slipway rollback` returns to where the alias was before the release. If the error signal
fires, the alias goes back to that target at once and the command fails. If a step after
the publish fails, the message says what state is left and the command that finishes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from infra.aws import alias as alias_ops
from infra.aws.canary import failing_signal, red_alarms, smoke
from infra.aws.client import Aws
from infra.aws.exceptions import AwsReleaseError, CanaryFailed, InvalidRequest, PartialRelease
from infra.aws.history import History, Target
from infra.aws.publish import PublishPlan, execute_publish
from model_store.backends import Store

Log = Callable[[str], None]


@dataclass(frozen=True)
class Watch:
    steps: tuple[float, ...] = (0.1, 1.0)  # the new version's share after each step
    wait_s: float = 60.0  # how long each step is watched
    poll_s: float = 10.0
    alarms: tuple[str, ...] = ()
    max_errors: float = 0.0

    @classmethod
    def parse(
        cls, steps: str, wait_s: float, poll_s: float, alarms: list[str] | None, max_errors: float
    ) -> Watch:
        try:
            shares = tuple(float(s) for s in steps.split(",") if s.strip())
        except ValueError:
            raise InvalidRequest(f"--steps {steps!r}: give shares like 0.1,0.5,1") from None
        if not shares or shares[-1] != 1.0 or any(not 0 < s <= 1 for s in shares):
            raise InvalidRequest(f"--steps {steps!r}: shares in (0, 1], the last one 1")
        if list(shares) != sorted(set(shares)):
            raise InvalidRequest(f"--steps {steps!r}: shares must increase")
        if wait_s < 0 or poll_s <= 0 or max_errors < 0:
            raise InvalidRequest("--wait and --max-errors must be >= 0, --poll > 0")
        return cls(shares, wait_s, poll_s, tuple(alarms or ()), max_errors)


@dataclass(frozen=True)
class ReleasePlan:
    publish: PublishPlan
    alias: str
    before: Target | None
    history: History
    revision_id: str | None
    watch: Watch
    smoke: bool = True
    red_before: tuple[str, ...] = ()  # alarms already red: they cannot judge the new version

    def lines(self) -> list[str]:
        out = self.publish.lines()
        out.append(
            "smoke-invoke the new version with the manifest's example request"
            if self.smoke
            else "no smoke invoke (--skip-smoke)"
        )
        if self.before is None:
            out.append(f"create alias {self.alias} -> the new version (first release: no canary)")
            return out
        for share in self.watch.steps:
            to = "the new version" if share == 1.0 else f"{self.before.version} + new at {share:g}"
            out.append(f"move alias {self.alias} to {to}, then watch {self.watch.wait_s:g} s")
        watched = ["Errors by ExecutedVersion", *(f"alarm {a}" for a in self.watch.alarms)]
        out.append(f"signals: {', '.join(watched)}; on failure back to {self.before.label()}")
        out += [
            f"note: alarm {a} is already ALARM; only a new transition counts"
            for a in self.red_before
        ]
        return out


def plan_release(
    aws: Aws, publish: PublishPlan, alias: str, watch: Watch, *, smoke: bool = True
) -> ReleasePlan:
    found, history = alias_ops.current(aws, publish.function, alias)
    before = Target.from_alias(found) if found else None
    return ReleasePlan(
        publish=publish,
        alias=alias,
        before=before,
        history=history,
        revision_id=found.get("RevisionId") if found else None,
        watch=watch,
        smoke=smoke,
        red_before=tuple(red_alarms(aws, watch.alarms)),
    )


def execute_release(
    aws: Aws, plan: ReleasePlan, source: Store, *, clock: Callable[[], datetime], log: Log
) -> str:
    """Run the release; returns the new version number."""
    fn, manifest = plan.publish.function, plan.publish.manifest
    published = execute_publish(aws, plan.publish, source)
    new = str(published["Version"])
    log(f"published version {new} of {fn} serving {manifest.ref}")
    if plan.smoke:
        try:
            smoke(aws, fn, new, manifest)
        except AwsReleaseError as exc:
            where = plan.before.label() if plan.before else "nothing (no alias yet)"
            raise type(exc)(
                f"{exc}. No traffic moved: alias {plan.alias} still points at {where}"
            ) from exc
        log(f"version {new} answered the smoke invoke with {manifest.ref}")
    started = int(clock().timestamp())
    if plan.before is None:
        first = alias_ops.AliasPlan(fn, plan.alias, None, Target(new), History(since=started), None)
        _move(aws, first, new, log)
        return new
    if plan.before == Target(new):
        log(f"alias {plan.alias} already points at version {new}; nothing to shift")
        return new
    history = plan.history.push(plan.before, started)
    revision = plan.revision_id
    step_plan = alias_ops.AliasPlan(fn, plan.alias, plan.before, plan.before, history, revision)
    # A canary beside its own primary is no canary: then the one step is all traffic.
    steps = plan.watch.steps if plan.before.version != new else (1.0,)
    for share in steps:
        to = Target(new) if share == 1.0 else Target(plan.before.version, new, share)
        step_plan = replace(step_plan, after=to, revision_id=revision)
        revision = _move(aws, step_plan, new, log).get("RevisionId")
        try:
            reason = _watch(aws, plan, new, clock(), clock)
        except KeyboardInterrupt:
            reason = "interrupted while watching"  # never leave a half-shifted alias behind
        if reason:
            back = alias_ops.AliasPlan(
                fn, plan.alias, to, plan.before, plan.history, revision, action="rollback"
            )
            _move(aws, back, new, log, rolling_back=True)
            raise CanaryFailed(
                f"version {new} ({manifest.ref}) failed while taking {share:g} of {plan.alias}: "
                f"{reason}. Rolled back: alias {plan.alias} points at {plan.before.label()} again; "
                f"version {new} stays published for inspection"
            )
    return new


def _watch(
    aws: Aws, plan: ReleasePlan, new: str, since: datetime, clock: Callable[[], datetime]
) -> str | None:
    w = plan.watch
    polls = max(1, int(w.wait_s // w.poll_s))
    for i in range(polls):
        if i or w.wait_s:
            aws.sleep(min(w.poll_s, w.wait_s) if w.wait_s else 0)
        reason = failing_signal(
            aws,
            function=plan.publish.function,
            alias=plan.alias,
            version=new,
            since=since,
            now=clock(),
            alarms=w.alarms,  # one red before the release counts only if it turns red again
            max_errors=w.max_errors,
        )
        if reason:
            return reason
    return None


def _move(
    aws: Aws, plan: alias_ops.AliasPlan, new: str, log: Log, *, rolling_back: bool = False
) -> dict[str, Any]:
    try:
        result = alias_ops.execute(aws, plan)
    except AwsReleaseError as exc:
        raise PartialRelease(_half_state(aws, plan, new, exc, rolling_back)) from exc
    log(f"alias {plan.alias} -> {plan.after.label()}")
    return result


def _half_state(
    aws: Aws, plan: alias_ops.AliasPlan, new: str, exc: Exception, rolling_back: bool
) -> str:
    """Say what is where now, and the command that finishes the job."""
    try:
        found = aws.alias(plan.function, plan.alias)
        now = Target.from_alias(found).label() if found else "nowhere (it does not exist)"
    except AwsReleaseError:
        now = "unknown (could not read it)"
    flags = f"--target aws --function {plan.function}"
    if rolling_back:
        finish = f"`slipway alias set {plan.alias} {plan.after.version} {flags}`"
        return (
            f"version {new} failed its canary and rolling alias {plan.alias} back failed: {exc}. "
            f"Alias {plan.alias} points at {now}. Put it back with {finish}"
        )
    return (
        f"version {new} is published, but moving alias {plan.alias} to {plan.after.label()} "
        f"failed: {exc}. Alias {plan.alias} points at {now}. To finish the release: "
        f"`slipway alias set {plan.alias} {new} {flags}`; to keep the current target, do nothing"
    )
