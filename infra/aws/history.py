"""Lambda's side of an alias's target and history: AWS field names, the description's limit.

The rules and the history itself are platform-neutral (`infra.release.model`). On Lambda the
history lives in the alias's own description, written in the same UpdateAlias call that
moves the alias (guarded by RevisionId), so the move and its record can never disagree.
Lambda caps a description at 256 characters, so the oldest entries are dropped first;
`truncated` says when that happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.release.model import Entry, History, Limits, Target
from infra.release.model import target as _target

__all__ = [
    "LIMITS",
    "MAX_DESCRIPTION",
    "Entry",
    "History",
    "Target",
    "routing_config",
    "target",
    "target_from_alias",
]

MAX_DESCRIPTION = 256  # Lambda's limit for a description (alias, function, version)
LIMITS = Limits(numbered=True, token="RevisionId", history_chars=MAX_DESCRIPTION)


def target(version: str, canary: str | None = None, weight: float | None = None) -> Target:
    """Validate a requested target by Lambda's rules for an alias."""
    return _target(version, canary, weight, LIMITS)


def routing_config(target: Target) -> dict[str, Any]:
    """UpdateAlias's RoutingConfig: the canary's weight, or none."""
    weights = {} if target.canary is None else {target.canary: target.weight}
    return {"AdditionalVersionWeights": weights}


def target_from_alias(alias: Mapping[str, Any]) -> Target:
    """From GetAlias/UpdateAlias output (AWS field names)."""
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    if not weights:
        return Target(str(alias["FunctionVersion"]))
    (canary, weight), *_ = weights.items()
    return Target(str(alias["FunctionVersion"]), str(canary), float(weight))
