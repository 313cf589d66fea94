"""Versions and aliases of the local platform, on disk.

One JSON file, changed under an exclusive lock and replaced atomically, so concurrent CLI
calls cannot corrupt it and `slipway serve` sees each change whole. The rules are the release
engine's (`infra.release.model`, Lambda's): versions are immutable and numbered; an alias
routes to one version, or two with a weight. Each alias carries a revision, bumped by every
change, which guards a move as RevisionId does on Lambda.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.exceptions import StateError
from infra.release.exceptions import AliasNotFound
from infra.release.model import (
    Entry,
    History,
    Limits,
    Snapshot,
    Target,
    VersionInfo,
    check_alias_name,
    check_versions,
    target,
)
from infra.release.plan import plan_rollback, plan_set
from model_store.files import exclusive_lock, write_json_atomic

# Lambda's rules; the token that guards a move is the alias's revision in the state file.
LIMITS = Limits(numbered=True, token="revision")

STATE_FILE = "state.json"


@dataclass(frozen=True)
class Version:
    number: int
    handler: str
    # Directories on the environment's sys.path, task root first (code, then layers).
    code: tuple[str, ...]
    env: Mapping[str, str]
    memory_mb: int = 1024
    timeout_s: float = 30.0
    model: str | None = None
    model_sha256: str | None = None
    artifact: Mapping[str, str] = field(default_factory=dict)  # digests of function/layer zips
    description: str = ""
    # A container image (podman's id, sha256:…) instead of code directories: each environment
    # is a container of it (`slipway serve --image`); `code` is then empty.
    image: str | None = None
    created_at: str = ""


@dataclass(frozen=True)
class Alias:
    name: str
    version: int
    canary: int | None = None
    weight: float = 0.0  # share of traffic for `canary`
    history: History = History()  # earlier targets, for rollback
    revision: int = 1  # bumped by every change of this alias: the concurrency token

    def target(self) -> tuple[int, int | None, float]:
        return (self.version, self.canary, self.weight)

    def routing(self) -> Target:
        canary = None if self.canary is None else str(self.canary)
        return Target(str(self.version), canary, self.weight)

    def versions(self) -> set[int]:
        return {self.version} | ({self.canary} if self.canary is not None else set())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "canary": self.canary,
            "weight": self.weight,
            "revision": self.revision,
            "since": self.history.since,
            "history": [[e.target.token(), e.since] for e in self.history.earlier],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alias:
        raw = data.get("history", [])
        # Entries are [TOKEN, since]; files written before there were tokens hold
        # [version, canary, weight].
        earlier = tuple(
            Entry(Target.parse_token(str(h[0])), int(h[1]))
            if len(h) == 2
            else Entry(Target(str(h[0]), None if h[1] is None else str(h[1]), float(h[2])), 0)
            for h in raw
        )
        canary = data.get("canary")
        return cls(
            name=str(data["name"]),
            version=int(data["version"]),
            canary=None if canary is None else int(canary),
            weight=float(data.get("weight", 0.0)),
            history=History(int(data.get("since", 0)), earlier),
            revision=int(data.get("revision", 1)),
        )


@dataclass(frozen=True)
class State:
    function: str = "predict"
    versions: Mapping[int, Version] = field(default_factory=dict)
    aliases: Mapping[str, Alias] = field(default_factory=dict)

    def version(self, number: int) -> Version:
        check_versions(Target(str(number)), self.version_ids(), self.function, hint=_HINT)
        return self.versions[number]

    def version_ids(self) -> tuple[str, ...]:
        return tuple(str(n) for n in sorted(self.versions))

    def alias(self, name: str) -> Alias:
        if name not in self.aliases:
            raise AliasNotFound(
                f"alias {name!r} does not exist; aliases: {sorted(self.aliases) or 'none'}"
            )
        return self.aliases[name]

    def versions_in_use(self) -> set[int]:
        return (
            set().union(*(a.versions() for a in self.aliases.values())) if self.aliases else set()
        )

    def snapshot(self, alias: str) -> Snapshot:
        """What the release engine plans from: versions, the alias, its history and token."""
        found = self.aliases.get(alias)
        return Snapshot(
            function=self.function,
            alias=alias,
            versions=tuple(
                VersionInfo(
                    str(n), v.model or "", v.model_sha256 or "", v.created_at, v.description
                )
                for n, v in sorted(self.versions.items())
            ),
            target=found.routing() if found else None,
            history=found.history if found else History(),
            token=str(found.revision) if found else None,
        )

    # -- changes (pure: they return a new State) ----------------------------------
    def publish(self, version: Version) -> tuple[State, Version]:
        number = max(self.versions, default=0) + 1
        stamped = replace(version, number=number, created_at=_now())
        return replace(self, versions={**self.versions, number: stamped}), stamped

    def set_alias(
        self, name: str, version: int, canary: int | None = None, weight: float | None = None
    ) -> State:
        """Point `name` at a target by the engine's rules (the same planner the CLI uses)."""
        check_alias_name(name, LIMITS)
        wanted = target(str(version), None if canary is None else str(canary), weight, LIMITS)
        plan = plan_set(self.snapshot(name), wanted, _epoch(), token_name=LIMITS.token, hint=_HINT)
        return self if plan.noop else self.with_alias(name, plan.after, plan.history)

    def rollback(self, name: str) -> State:
        self.alias(name)
        plan = plan_rollback(
            self.snapshot(name), token_name=LIMITS.token, target_flag="--target local"
        )
        return self.with_alias(name, plan.after, plan.history)

    def with_alias(self, name: str, to: Target, history: History) -> State:
        """The alias moved to `to` (already checked), its revision bumped."""
        check_versions(to, self.version_ids(), self.function, hint=_HINT)
        old = self.aliases.get(name)
        new = Alias(
            name,
            int(to.version),
            None if to.canary is None else int(to.canary),
            to.weight if to.canary is not None else 0.0,
            history,
            old.revision + 1 if old else 1,
        )
        return replace(self, aliases={**self.aliases, name: new})

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "versions": {
                str(n): {**asdict(v), "code": list(v.code)} for n, v in self.versions.items()
            },
            "aliases": {n: a.to_dict() for n, a in self.aliases.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> State:
        try:
            versions = {
                int(n): Version(**{**v, "code": tuple(v["code"]), "number": int(n)})
                for n, v in data.get("versions", {}).items()
            }
            aliases = {n: Alias.from_dict(a) for n, a in data.get("aliases", {}).items()}
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise StateError(f"the platform state is malformed: {exc}") from exc
        return cls(function=data.get("function", "predict"), versions=versions, aliases=aliases)


_HINT = "run `slipway publish --model NAME@VERSION`"


def _epoch() -> int:
    return int(datetime.now(UTC).timestamp())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StateStore:
    """The state file in `root`, read freely and changed under a lock."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.path = self.root / STATE_FILE

    def load(self) -> State:
        try:
            return State.from_dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return State()
        except json.JSONDecodeError as exc:
            raise StateError(
                f"{self.path} is not valid JSON ({exc}); restore it or delete it"
            ) from exc

    def stamp(self) -> tuple[int, int, int]:
        """Changes whenever the file is replaced: every write makes a new inode.

        mtime alone is not enough: two writes within one timer tick (a publish and the
        alias move right after it) can carry the same mtime, and the second would be missed.
        """
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextmanager
    def change(self) -> Iterator[list[State]]:
        """`with store.change() as box: box[0] = box[0].publish(...)[0]` — saved atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.root / ".state.lock"):
            box = [self.load()]
            yield box
            self._write(box[0])

    def _write(self, state: State) -> None:
        write_json_atomic(self.path, state.to_dict(), indent=2, sync=True)
