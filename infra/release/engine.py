"""The one executor of release plans, for every platform.

The alias only moves after the new version answered the smoke invoke. Each step is one
guarded write; the whole release is one entry in the alias's history, so a later
`slipway rollback` returns to where the alias was before the release. If the error signal
fires (or the watch is interrupted), the alias goes back to that target at once and the
command fails. If a step after the publish fails, the message says what state is left and
the command that finishes it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic

from infra import progress
from infra.events import http_api_v2
from infra.release.exceptions import (
    CanaryFailed,
    Conflict,
    PartialRelease,
    ReleaseError,
    SmokeTestFailed,
)
from infra.release.model import History, Target
from infra.release.plan import AliasPlan, ReleasePlan, S
from infra.release.platform import Platform
from infra.release.steps import FirstAlias, Shift, Smoke
from model_store.manifest import Manifest

Log = Callable[[str], None]
Clock = Callable[[], datetime]


# -- smoke invoke ------------------------------------------------------------------------
def smoke_event(manifest: Manifest) -> dict[str, Any]:
    """The manifest's example request as an API Gateway HTTP API (payload 2.0) event."""
    if manifest.example is None:
        raise SmokeTestFailed(
            f"model {manifest.ref} has no example request in its manifest, so the new version "
            "cannot be smoke-tested; register it with --sample, or pass --skip-smoke"
        )
    body = json.dumps(manifest.example).encode()
    return http_api_v2("POST", "/predict", body=body, headers={"content-type": "application/json"})


def check_smoke_reply(
    function_error: str | None, payload: bytes, manifest: Manifest, where: str
) -> None:
    """The reply must be a 200 from this model version with outputs; anything else fails."""
    text = payload.decode(errors="replace")[:300]
    if function_error:
        raise SmokeTestFailed(f"{where} failed the smoke invoke ({function_error}): {text}")
    try:
        reply = json.loads(payload)
        status = reply["statusCode"]
        raw = reply.get("body") or ""
        body = json.loads(base64.b64decode(raw) if reply.get("isBase64Encoded") else raw)
    except (ValueError, KeyError, TypeError):
        raise SmokeTestFailed(
            f"{where} did not answer the smoke invoke like the prediction function: {text}"
        ) from None
    if status != 200:
        raise SmokeTestFailed(f"{where} answered the smoke invoke with {status}: {text}")
    model = body.get("model") if isinstance(body, dict) else None
    if model != {"name": manifest.name, "version": manifest.version}:
        raise SmokeTestFailed(
            f"{where} serves {model}, not {manifest.ref}: the configuration did not take; {text}"
        )
    if not body.get("outputs"):
        raise SmokeTestFailed(f"{where} answered without outputs: {text}")


def smoke(platform: Platform[Any], version: str, manifest: Manifest) -> None:
    payload = json.dumps(smoke_event(manifest)).encode()
    error, reply = platform.invoke(version, payload)
    check_smoke_reply(error, reply, manifest, f"version {version} of {platform.function}")


# -- alias moves ---------------------------------------------------------------------------
def move(platform: Platform[Any], plan: AliasPlan) -> tuple[Target, str | None]:
    """One guarded write; refuses to report success unless the alias landed where asked."""
    landed, token = platform.route(
        plan.alias, plan.after, plan.history, plan.token, create=plan.before is None
    )
    if landed != plan.after:
        raise Conflict(
            f"alias {plan.alias} of {plan.function} reports {landed.label()} after the move, not "
            f"{plan.after.label()}; run `slipway status --target {platform.name}` and set it again"
        )
    return landed, token


# -- release -------------------------------------------------------------------------------
def execute_release(platform: Platform[S], plan: ReleasePlan[S], *, clock: Clock, log: Log) -> str:
    """Run the plan's steps, the ones its dry run prints, in order; returns the new version id
    (the alias's own when the plan moves nothing: then nothing runs)."""
    if not plan.moves:
        assert plan.before is not None
        return plan.before.version
    new = ""
    canary: _Canary[S] | None = None
    for step in plan.steps:
        if step is plan.publish:
            new = platform.publish(plan.publish)
            log(plan.publish.done(new))
        elif isinstance(step, Smoke):
            _smoke(platform, plan, new, log)
        elif isinstance(step, FirstAlias):
            since = History(since=int(clock().timestamp()))
            first = AliasPlan(plan.function, step.alias, None, Target(new), since, None)
            _step(platform, first, new, log)
        elif isinstance(step, Shift):
            canary = canary or _Canary.begin(plan, new, int(clock().timestamp()), log)
            canary.shift(platform, step, clock, log)
        # NoSmoke, Guard and Note only say something: the guard is each shift's rollback.
        # (Unchanged and NothingNew are a plan's only step, handled above.)
    return new


def _smoke(platform: Platform[S], plan: ReleasePlan[S], new: str, log: Log) -> None:
    manifest = plan.publish.manifest
    try:
        smoke(platform, new, manifest)
    except ReleaseError as exc:
        where = plan.before.label() if plan.before else "nothing (no alias yet)"
        raise type(exc)(
            f"{exc}. No traffic moved: alias {plan.alias} still points at {where}"
        ) from exc
    log(f"version {new} answered the smoke invoke with {manifest.ref}")


@dataclass
class _Canary(Generic[S]):
    """The shifts of one release: one history entry for all of them, the alias's token."""

    plan: ReleasePlan[S]
    before: Target  # where the alias pointed: what a failure returns to
    new: str
    history: History
    token: str | None
    shares: tuple[float, ...]  # the shares that run

    @classmethod
    def begin(cls, plan: ReleasePlan[S], new: str, started: int, log: Log) -> _Canary[S]:
        assert plan.before is not None  # a release shifts only an alias that exists
        shares = tuple(s.share for s in plan.steps if isinstance(s, Shift))
        if plan.before == Target(new):
            log(f"alias {plan.alias} already points at version {new}; nothing to shift")
            shares = ()
        elif plan.before.version == new:
            shares = (1.0,)  # a canary beside its own primary is no canary: all traffic at once
        history = plan.history.push(plan.before, started)
        return cls(plan, plan.before, new, history, plan.token, shares)

    def shift(self, platform: Platform[S], step: Shift, clock: Clock, log: Log) -> None:
        if step.share not in self.shares:
            return
        plan, new, share = self.plan, self.new, step.share
        to = Target(new) if share == 1.0 else Target(self.before.version, new, share)
        move = AliasPlan(plan.function, plan.alias, self.before, to, self.history, self.token)
        self.token = _step(platform, move, new, log)
        n = self.shares.index(share) + 1
        window = (
            f"step {n}/{len(self.shares)}, {plan.alias} -> {to.label()}: watching version {new}"
        )
        try:
            reason = _watch(platform, plan, new, clock(), clock, window)
        except KeyboardInterrupt:
            reason = "interrupted while watching"  # never leave a half-shifted alias behind
        if reason:
            back = AliasPlan(
                plan.function, plan.alias, to, self.before, plan.history, self.token,
                action="rollback",
            )  # fmt: skip
            _step(platform, back, new, log, rolling_back=True)
            raise CanaryFailed(
                f"version {new} ({plan.publish.manifest.ref}) failed while taking {share:g} of "
                f"{plan.alias}: {reason}. Rolled back: alias {plan.alias} points at "
                f"{self.before.label()} again; version {new} stays published for inspection"
            )


def _watch(
    platform: Platform[S],
    plan: ReleasePlan[S],
    new: str,
    since: datetime,
    clock: Clock,
    label: str,
) -> str | None:
    w = plan.watch
    polls = max(1, int(w.wait_s // w.poll_s))
    # The window's time left, after each check (a bar on a terminal, a line in CI).
    with progress.task(label, total=w.wait_s, unit="s") as window:
        for i in range(polls):
            if i or w.wait_s:
                platform.sleep(min(w.poll_s, w.wait_s) if w.wait_s else 0)
            at = clock()
            reason = platform.signal(new, plan.alias, since, at, w)
            window.update((at - since).total_seconds(), "signal fired" if reason else "no errors")
            if reason:
                return reason
    return None


def _step(
    platform: Platform[Any], plan: AliasPlan, new: str, log: Log, *, rolling_back: bool = False
) -> str | None:
    try:
        _, token = move(platform, plan)
    except ReleaseError as exc:
        raise PartialRelease(_half_state(platform, plan, new, exc, rolling_back)) from exc
    log(f"alias {plan.alias} -> {plan.after.label()}")
    return token


def _half_state(
    platform: Platform[Any], plan: AliasPlan, new: str, exc: Exception, rolling_back: bool
) -> str:
    """Say what is where now, and the command that finishes the job."""
    try:
        found = platform.read(plan.alias).target
        now = found.label() if found else "nowhere (it does not exist)"
    except ReleaseError:
        now = "unknown (could not read it)"
    flags = f"--target {platform.name} --function {plan.function}"
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
