"""The small protocol every platform implements; the engine talks to nothing else.

Like Mangum's event-source handlers: one class per platform (`infra.local.platform`,
`infra.aws.platform`), structural typing, no base class. A platform reads its state, publishes
a version pinning an artifact and a model, invokes one version directly (bypassing the
alias), moves an alias in one guarded write, and reports the new version's error signal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from infra.release.model import History, Limits, Pins, Snapshot, Target
from infra.release.plan import S, Watch


class Platform(Protocol[S]):
    name: str  # the --target value, used in the commands that messages suggest
    function: str
    limits: Limits
    sleep: Callable[[float], None]

    def read(self, alias: str) -> Snapshot:
        """Versions, the alias's target, its history and concurrency token. Read-only."""
        ...

    def plan_publish(self, model: str, description: str) -> S:
        """Resolve what a publish of `model` (NAME@VERSION) would do, reading only."""
        ...

    def publish(self, step: S) -> str:
        """Publish the version; returns its id (known only now)."""
        ...

    def pins(self, version: str) -> Pins | None:
        """What `version` pins (code, layers or image, configuration, model), comparable
        with a publish plan's `pins`; None when the platform cannot tell. Read-only."""
        ...

    def invoke(self, version: str, payload: bytes) -> tuple[str | None, bytes]:
        """Invoke `version` itself, not an alias; returns (function error or None, payload)."""
        ...

    def route(
        self, alias: str, target: Target, history: History, token: str | None, *, create: bool
    ) -> tuple[Target, str | None]:
        """One guarded write moving (or creating) `alias`, with its history.

        Raises Conflict when `token` is stale (or, creating, the alias exists already);
        returns what landed and the alias's new token."""
        ...

    def signals(self, watch: Watch) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(what the watch looks at, notes) for the plan; read-only."""
        ...

    def signal(
        self, version: str, alias: str, since: datetime, now: datetime, watch: Watch
    ) -> str | None:
        """Why `version` looks bad since `since`, or None while it looks fine."""
        ...

    def status(self, as_json: bool) -> str: ...
