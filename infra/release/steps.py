"""The steps of the engine's plans (an alias move, a release), each said by its `TEXT`.

Frozen data, rendered by `infra.release.render` and run by `infra.release.engine`: what a dry
run prints is what the executor does. A platform's publish plan has steps of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Note:
    """Something the plan's reader should know; nothing runs."""

    TEXT: ClassVar[str] = "{text}"
    text: str


# -- an alias move (`alias set`, `rollback`) -----------------------------------------------
@dataclass(frozen=True)
class AliasUnchanged:
    TEXT: ClassVar[str] = "alias {alias} of {function} already points at {target}"
    alias: str
    function: str
    target: str


@dataclass(frozen=True)
class CreateAlias:
    TEXT: ClassVar[str] = "create alias {alias} of {function} -> {target}"
    alias: str
    function: str
    target: str


@dataclass(frozen=True)
class MoveAlias:
    TEXT: ClassVar[str] = (
        "{action}: move alias {alias} of {function} from {before} to {after} "
        "(guarded by {token_name} {token})"
    )
    action: str
    alias: str
    function: str
    before: str
    after: str
    token_name: str
    token: str | None


# -- a release (after the platform's publish plan) -----------------------------------------
@dataclass(frozen=True)
class Smoke:
    TEXT: ClassVar[str] = "smoke-invoke the new version with the manifest's example request"


@dataclass(frozen=True)
class NoSmoke:
    TEXT: ClassVar[str] = "no smoke invoke (--skip-smoke)"


@dataclass(frozen=True)
class FirstAlias:
    """The alias does not exist yet: it is created on the new version, no canary."""

    TEXT: ClassVar[str] = "create alias {alias} -> the new version (first release: no canary)"
    alias: str


@dataclass(frozen=True)
class Shift:
    """Move the alias so the new version takes `share`, then watch the signals `wait_s`."""

    TEXT: ClassVar[str] = "move alias {alias} to {to}, then watch {wait_s:g} s"
    alias: str
    share: float
    to: str  # the target in words: the new version's id is known only once published
    wait_s: float


@dataclass(frozen=True)
class Unchanged:
    """What would be published is what the alias's version pins already: nothing moves."""

    TEXT: ClassVar[str] = (
        "nothing to release: alias {alias} -> version {version}, which pins this code, "
        "configuration and model ({model}) already; no version is published, nothing moves"
    )
    alias: str
    version: str
    model: str


@dataclass(frozen=True)
class NothingNew:
    """No model named, and the code and configuration are the newest version's: nothing was
    deployed since that version was published, so nothing moves (a rollback stays)."""

    TEXT: ClassVar[str] = (
        "nothing to release: the code and configuration are version {newest}'s, published "
        "before; alias {alias} stays on {target}{why}"
    )
    alias: str
    newest: str
    target: str
    why: str  # when the alias is elsewhere: how to release the newest version after all


@dataclass(frozen=True)
class Guard:
    """What every shift's watch looks at, and where a failure sends the alias back."""

    TEXT: ClassVar[str] = "signals: {signals}; on failure back to {back}"
    signals: str
    back: str
