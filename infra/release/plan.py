"""Release plans: frozen data made by read-only planners, printed by `--dry-run`, run by the engine.

A plan is computed from a `Snapshot` (what the platform reported) and carries the
platform's concurrency token, so a change made by someone else between planning and
executing fails as a Conflict instead of being overwritten. Its `steps` (`infra.release.steps`)
are what the engine runs and what `infra.release.render` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from infra.release.exceptions import AliasNotFound, InvalidRequest
from infra.release.model import History, Snapshot, Target, check_versions
from infra.release.render import Plan, Step
from infra.release.steps import (
    AliasUnchanged,
    CreateAlias,
    FirstAlias,
    Guard,
    MoveAlias,
    NoSmoke,
    Note,
    Shift,
    Smoke,
)
from model_store.manifest import Manifest


class PublishStep(Protocol):
    """A platform's plan to publish one version (read-only to make, printed by --dry-run)."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def steps(self) -> Sequence[Step | Plan]:
        """What `Platform.publish` does, in order (`infra.release.render` prints them)."""
        ...

    def done(self, version: str) -> str:
        """The line printed once `version` is published."""
        ...


S = TypeVar("S", bound=PublishStep)


@dataclass(frozen=True)
class AliasPlan:
    """Move `alias` from `before` to `after`, writing `history` in the same guarded call."""

    function: str
    alias: str
    before: Target | None  # None: the alias does not exist yet
    after: Target
    history: History  # written with the move
    token: str | None  # the alias's concurrency token when read
    token_name: str = "RevisionId"
    action: str = "set"

    @property
    def noop(self) -> bool:
        return self.before == self.after and self.action == "set"

    @property
    def steps(self) -> tuple[AliasUnchanged | CreateAlias | MoveAlias]:
        """One guarded write (`engine.move`), or none when the alias is there already."""
        after = self.after.label()
        if self.noop:
            return (AliasUnchanged(self.alias, self.function, after),)
        if self.before is None:
            return (CreateAlias(self.alias, self.function, after),)
        before = self.before.label()
        return (
            MoveAlias(
                self.action, self.alias, self.function, before, after, self.token_name, self.token
            ),
        )


def plan_set(
    snap: Snapshot, wanted: Target, now: int, *, token_name: str, hint: str = ""
) -> AliasPlan:
    """Point the alias at `wanted`; setting the target it already has changes nothing."""
    check_versions(wanted, snap.version_ids(), snap.function, hint=hint)
    if snap.target is None:
        return AliasPlan(
            snap.function, snap.alias, None, wanted, History(since=now), None, token_name
        )
    history = snap.history if snap.target == wanted else snap.history.push(snap.target, now)
    return AliasPlan(
        snap.function, snap.alias, snap.target, wanted, history, snap.token, token_name
    )


def plan_rollback(snap: Snapshot, *, token_name: str, target_flag: str) -> AliasPlan:
    """Back to where the alias pointed before its last change, as its history says."""
    if snap.target is None:
        raise AliasNotFound(
            f"alias {snap.alias} of {snap.function} does not exist; nothing to roll back"
        )
    entry, rest = snap.history.pop()
    check_versions(
        entry.target,
        snap.version_ids(),
        snap.function,
        f" (alias {snap.alias} pointed at {entry.target.label()} before; was the version "
        f"deleted?). Point the alias explicitly with `slipway alias set {snap.alias} N "
        f"{target_flag}`",
    )
    return AliasPlan(
        snap.function,
        snap.alias,
        snap.target,
        entry.target,
        rest,
        snap.token,
        token_name,
        action="rollback",
    )


@dataclass(frozen=True)
class Watch:
    """How the new version takes traffic: shares per step, and how each step is watched."""

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
class ReleasePlan(Generic[S]):
    """Publish, smoke-invoke the new version, then shift `alias` to it in `watch.steps`."""

    publish: S
    function: str
    alias: str
    before: Target | None  # where the alias points now: what a failure returns to
    history: History
    token: str | None
    watch: Watch
    signals: tuple[str, ...]  # what is watched, in words
    smoke: bool = True
    notes: tuple[str, ...] = ()

    @property
    def steps(self) -> tuple[S | Smoke | NoSmoke | FirstAlias | Shift | Guard | Note, ...]:
        """What `engine.execute_release` runs, in order: the platform's publish, the smoke
        invoke, then the alias: created on the new version, or shifted share by share."""
        out: list[S | Smoke | NoSmoke | FirstAlias | Shift | Guard | Note] = [self.publish]
        out.append(Smoke() if self.smoke else NoSmoke())
        if self.before is None:
            return (*out, FirstAlias(self.alias))
        for share in self.watch.steps:
            to = "the new version" if share == 1.0 else f"{self.before.version} + new at {share:g}"
            out.append(Shift(self.alias, share, to, self.watch.wait_s))
        out.append(Guard(", ".join(self.signals), self.before.label()))
        return (*out, *(Note(n) for n in self.notes))


def plan_release(
    snap: Snapshot,
    publish: S,
    watch: Watch,
    *,
    signals: tuple[str, ...],
    smoke: bool = True,
    notes: tuple[str, ...] = (),
) -> ReleasePlan[S]:
    return ReleasePlan(
        publish=publish,
        function=snap.function,
        alias=snap.alias,
        before=snap.target,
        history=snap.history,
        token=snap.token,
        watch=watch,
        signals=signals,
        smoke=smoke,
        notes=notes,
    )
