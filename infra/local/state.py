"""Versions and aliases of the local platform, on disk.

One JSON file, changed under an exclusive lock and replaced atomically, so concurrent CLI
calls cannot corrupt it and `slipway serve` sees each change whole. The rules are Lambda's:
versions are immutable and numbered; an alias routes to one version, or two with a weight.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.exceptions import AliasError, StateError, VersionNotFound

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
    created_at: str = ""


@dataclass(frozen=True)
class Alias:
    name: str
    version: int
    canary: int | None = None
    weight: float = 0.0  # share of traffic for `canary`
    # Earlier targets, newest last, for rollback: (version, canary, weight).
    history: tuple[tuple[int, int | None, float], ...] = ()

    def target(self) -> tuple[int, int | None, float]:
        return (self.version, self.canary, self.weight)

    def versions(self) -> set[int]:
        return {self.version} | ({self.canary} if self.canary is not None else set())


@dataclass(frozen=True)
class State:
    function: str = "predict"
    versions: Mapping[int, Version] = field(default_factory=dict)
    aliases: Mapping[str, Alias] = field(default_factory=dict)

    def version(self, number: int) -> Version:
        if number not in self.versions:
            known = sorted(self.versions) or "none yet (run `slipway publish`)"
            raise VersionNotFound(
                f"version {number} of {self.function} does not exist; versions: {known}"
            )
        return self.versions[number]

    def alias(self, name: str) -> Alias:
        if name not in self.aliases:
            raise AliasError(
                f"alias {name!r} does not exist; aliases: {sorted(self.aliases) or 'none'}"
            )
        return self.aliases[name]

    def versions_in_use(self) -> set[int]:
        return (
            set().union(*(a.versions() for a in self.aliases.values())) if self.aliases else set()
        )

    # -- changes (pure: they return a new State) ----------------------------------
    def publish(self, version: Version) -> tuple[State, Version]:
        number = max(self.versions, default=0) + 1
        stamped = replace(version, number=number, created_at=_now())
        return replace(self, versions={**self.versions, number: stamped}), stamped

    def set_alias(
        self, name: str, version: int, canary: int | None = None, weight: float | None = None
    ) -> State:
        check_alias_target(self, name, version, canary, weight)
        old = self.aliases.get(name)
        history = old.history + (old.target(),) if old else ()
        new = Alias(
            name, version, canary, float(weight or 0.0) if canary is not None else 0.0, history
        )
        return replace(self, aliases={**self.aliases, name: new})

    def rollback(self, name: str) -> State:
        alias = self.alias(name)
        if not alias.history:
            raise AliasError(f"alias {name!r} has no earlier target to roll back to")
        version, canary, weight = alias.history[-1]
        new = Alias(name, version, canary, weight, alias.history[:-1])
        return replace(self, aliases={**self.aliases, name: new})

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "versions": {
                str(n): {**asdict(v), "code": list(v.code)} for n, v in self.versions.items()
            },
            "aliases": {
                n: {**asdict(a), "history": [list(h) for h in a.history]}
                for n, a in self.aliases.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> State:
        try:
            versions = {
                int(n): Version(**{**v, "code": tuple(v["code"]), "number": int(n)})
                for n, v in data.get("versions", {}).items()
            }
            aliases = {
                n: Alias(**{**a, "history": tuple(tuple(h) for h in a.get("history", []))})
                for n, a in data.get("aliases", {}).items()
            }
        except (TypeError, ValueError, KeyError) as exc:
            raise StateError(f"the platform state is malformed: {exc}") from exc
        return cls(function=data.get("function", "predict"), versions=versions, aliases=aliases)


def check_alias_target(
    state: State, name: str, version: int, canary: int | None, weight: float | None
) -> None:
    """Lambda's alias rules: existing versions, at most two, weight in [0, 1]."""
    if not name or not all(c.isalnum() or c in "-_" for c in name) or name[0].isdigit():
        raise AliasError(
            f"alias name {name!r}: letters, digits, '-' and '_', not starting with a digit"
        )
    state.version(version)
    if canary is None:
        if weight is not None:
            raise AliasError("--weight needs --canary: the version that gets that share of traffic")
        return
    state.version(canary)
    if canary == version:
        raise AliasError(f"the canary must be another version than {version}")
    if weight is None:
        raise AliasError("--canary needs --weight, the canary's share of traffic in [0, 1]")
    if not 0.0 <= weight <= 1.0:
        raise AliasError(f"weight {weight} is outside [0, 1]")


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

    def mtime(self) -> float:
        try:
            return self.path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            return 0.0

    @contextmanager
    def change(self) -> Iterator[list[State]]:
        """`with store.change() as box: box[0] = box[0].publish(...)[0]` — saved atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".state.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            box = [self.load()]
            yield box
            self._write(box[0])

    def _write(self, state: State) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.root)
        with os.fdopen(fd, "w") as fh:
            json.dump(state.to_dict(), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
