"""Where an alias points, and where it pointed before, kept in the alias's own description.

The history lives in AWS, so `slipway rollback` works from any machine, and it is written in
the same UpdateAlias call that moves the alias (guarded by RevisionId): the move and its
record can never disagree. Lambda caps a description at 256 characters, so the oldest
entries are dropped first; `truncated` says when that happened.

Format: `slipway:1 since=EPOCH prev=TARGET@EPOCH,TARGET@EPOCH` (newest last), where TARGET is
`VERSION` or `VERSION+CANARY:WEIGHT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from infra.aws.exceptions import InvalidRequest

MAGIC = "slipway:1"
MAX_DESCRIPTION = 256  # Lambda's limit for an alias description


@dataclass(frozen=True)
class Target:
    """An alias's routing: all traffic to `version`, or `weight` of it to `canary`."""

    version: str
    canary: str | None = None
    weight: float = 0.0

    def versions(self) -> tuple[str, ...]:
        return (self.version,) if self.canary is None else (self.version, self.canary)

    def routing_config(self) -> dict[str, Any]:
        weights = {} if self.canary is None else {self.canary: self.weight}
        return {"AdditionalVersionWeights": weights}

    def label(self) -> str:
        if self.canary is None:
            return self.version
        return f"{self.version} + {self.canary} at {self.weight:.4g}"

    def token(self) -> str:
        if self.canary is None:
            return self.version
        return f"{self.version}+{self.canary}:{self.weight:.6g}"

    @classmethod
    def parse_token(cls, token: str) -> Target:
        version, plus, rest = token.partition("+")
        if not plus:
            return cls(version)
        canary, _, weight = rest.partition(":")
        return cls(version, canary, float(weight))

    @classmethod
    def from_alias(cls, alias: Mapping[str, Any]) -> Target:
        """From GetAlias/UpdateAlias output (AWS field names)."""
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        if not weights:
            return cls(str(alias["FunctionVersion"]))
        (canary, weight), *_ = weights.items()
        return cls(str(alias["FunctionVersion"]), str(canary), float(weight))


def target(version: str, canary: str | None = None, weight: float | None = None) -> Target:
    """Validate a requested target by Lambda's rules for an alias."""
    for v in (version, canary):
        if v is not None and not (v.isdigit() and int(v) >= 1):
            raise InvalidRequest(
                f"version {v!r}: give a published version number (1, 2, …); $LATEST is mutable, "
                "so a release never points an alias at it"
            )
    if canary is None:
        if weight is not None:
            raise InvalidRequest("--weight needs --canary: the version that gets that share")
        return Target(version)
    if canary == version:
        raise InvalidRequest(f"the canary must be another version than {version}")
    if weight is None:
        raise InvalidRequest("--canary needs --weight, the canary's share of traffic in [0, 1]")
    if not 0.0 <= weight <= 1.0:
        raise InvalidRequest(f"weight {weight} is outside [0, 1]")
    return Target(version, canary, float(weight))


@dataclass(frozen=True)
class Entry:
    target: Target
    since: int  # epoch seconds when the alias was set to this target; 0 when unknown


@dataclass(frozen=True)
class History:
    since: int = 0  # when the current target was set
    earlier: tuple[Entry, ...] = ()  # newest last
    truncated: bool = False

    def push(self, current: Target, now: int) -> History:
        """The history after moving away from `current` at `now`."""
        return History(now, (*self.earlier, Entry(current, self.since)), self.truncated)

    def pop(self) -> tuple[Entry, History]:
        """The previous target, and the history once the alias is back there."""
        if not self.earlier:
            raise InvalidRequest("the alias has no earlier target in its history to roll back to")
        last = self.earlier[-1]
        return last, History(last.since, self.earlier[:-1], self.truncated)

    def encode(self) -> str:
        entries = list(self.earlier)
        truncated = self.truncated
        while True:
            prev = ",".join(f"{e.target.token()}@{e.since}" for e in entries)
            text = f"{MAGIC} since={self.since} prev={prev}"
            if truncated:
                text += " truncated"
            if len(text) <= MAX_DESCRIPTION:
                return text
            entries.pop(0)
            truncated = True

    @classmethod
    def decode(cls, description: str | None) -> History:
        """Parse an alias description; anything not written by Slipway is an empty history."""
        words = (description or "").split()
        if not words or words[0] != MAGIC:
            return cls()
        fields = dict(w.partition("=")[::2] for w in words[1:] if "=" in w)
        try:
            earlier = tuple(
                Entry(Target.parse_token(tok), int(when))
                for tok, _, when in (e.rpartition("@") for e in fields.get("prev", "").split(","))
                if tok
            )
            return cls(int(fields.get("since", "0")), earlier, "truncated" in words)
        except ValueError:
            return cls()  # hand-edited beyond recognition: treat as no history

    def with_since(self, since: int) -> History:
        return replace(self, since=since)
