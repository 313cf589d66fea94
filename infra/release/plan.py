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
from infra.release.model import History, Pins, Snapshot, Target, VersionInfo, check_versions
from infra.release.render import Plan, Step
from infra.release.steps import (
    AliasUnchanged,
    CreateAlias,
    FirstAlias,
    Guard,
    MoveAlias,
    NoSmoke,
    Note,
    NothingNew,
    Shift,
    Smoke,
    Unchanged,
)
from model_store.manifest import Manifest


class PublishStep(Protocol):
    """A platform's plan to publish one version (read-only to make, printed by --dry-run)."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def pins(self) -> Pins | None:
        """What the new version would pin (`Platform.pins` of it once published); None when
        that is known only after publishing (then a release always publishes)."""
        ...

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


ReleaseStep = Smoke | NoSmoke | FirstAlias | Shift | Guard | Note | Unchanged | NothingNew


@dataclass(frozen=True)
class Compared:
    """A published version and its pins, which a release compares its new version with."""

    version: VersionInfo
    pins: Pins | None

    def same(self, pins: Pins | None, manifest: Manifest | None = None) -> bool:
        """Whether a version pinning `pins` (and `manifest`'s model, if given) is this one."""
        if pins is None or pins != self.pins:
            return False
        return manifest is None or (manifest.ref, manifest.sha256) == (
            self.version.model,
            self.version.sha256,
        )


@dataclass(frozen=True)
class ReleasePlan(Generic[S]):
    """Publish, smoke-invoke the new version, then shift `alias` to it in `watch.steps`.

    Or nothing, when the new version would be one that exists: `unchanged` (the alias's own
    version pins this code, configuration and model), or `nothing_new` (no model named, and
    the code and configuration are those of the version published last: nothing was deployed
    since, so a rollback stays). A deploy that changes nothing moves nothing."""

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
    live: Compared | None = None  # the alias's version (one version, no canary)
    newest: Compared | None = None  # with no model named: the version published last

    @property
    def unchanged(self) -> bool:
        return self.live is not None and self.live.same(self.publish.pins, self.publish.manifest)

    @property
    def nothing_new(self) -> bool:
        return self.newest is not None and self.newest.same(self.publish.pins)

    @property
    def steps(self) -> tuple[S | ReleaseStep, ...]:
        """What `engine.execute_release` runs, in order: the platform's publish, the smoke
        invoke, then the alias: created on the new version, or shifted share by share."""
        if self.unchanged:
            assert self.before is not None
            return (Unchanged(self.alias, self.before.version, self.publish.manifest.ref),)
        if self.nothing_new:
            assert self.newest is not None and self.before is not None
            newest = self.newest.version
            why = ""
            if self.before.version != newest.id or self.before.canary is not None:
                why = (
                    f" (version {newest.id}, {newest.model}, was published but {self.alias} "
                    f"does not serve it; to release it, name its model: --model {newest.model}, "
                    f"or on a deploy --param model={newest.model})"
                )
            return (NothingNew(self.alias, newest.id, self.before.label(), why),)
        out: list[S | ReleaseStep] = [self.publish]
        out.append(Smoke() if self.smoke else NoSmoke())
        if self.before is None:
            return (*out, FirstAlias(self.alias))
        for share in self.watch.steps:
            to = "the new version" if share == 1.0 else f"{self.before.version} + new at {share:g}"
            out.append(Shift(self.alias, share, to, self.watch.wait_s))
        out.append(Guard(", ".join(self.signals), self.before.label()))
        return (*out, *(Note(n) for n in self.notes))

    @property
    def moves(self) -> bool:
        """Whether the plan publishes and moves the alias (not `unchanged` or `nothing_new`)."""
        return not (self.unchanged or self.nothing_new)


def plan_release(
    snap: Snapshot,
    publish: S,
    watch: Watch,
    *,
    signals: tuple[str, ...],
    smoke: bool = True,
    notes: tuple[str, ...] = (),
    live: Compared | None = None,
    newest: Compared | None = None,
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
        live=live,
        newest=newest,
    )
