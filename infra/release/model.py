"""The rules of versions and aliases, once for every platform.

A version is immutable and pins one artifact and one model; an alias routes to one version,
or to two with a weight (a canary). Version ids are opaque strings here ("1", "2" on Lambda
and locally; revision names on Cloud Run); each platform states its own `Limits`.

An alias's history (where it pointed before, newest last) is what `rollback` returns to. It
is kept in the platform itself (Lambda: the alias description; locally: the state file),
written by the same guarded call that moves the alias, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from infra.release.exceptions import AliasError, InvalidRequest, VersionNotFound

MAGIC = "slipway:1"  # first word of a history written as text

# What a version pins besides its model (code, layers or image, configuration), as sorted
# (field, value) pairs; with the model (name@version and sha256) it decides what a version
# serves: two versions with equal pins and the same model serve the same thing.
Pins = tuple[tuple[str, str], ...]


def pins_of(fields: Mapping[str, object]) -> Pins:
    """`fields` as Pins: each value as text (JSON-like for containers), in field order."""
    return tuple(sorted((k, v if isinstance(v, str) else repr(v)) for k, v in fields.items()))


@dataclass(frozen=True)
class Limits:
    """What a platform allows for an alias's target."""

    numbered: bool = True  # ids are published version numbers 1, 2, … (Lambda, local)
    latest: str = "$LATEST"  # the mutable pseudo-version no alias may point at
    weight_step: float = 0.0  # granularity of a weight (Cloud Run: 0.01); 0 means any float
    token: str = "RevisionId"  # what guards a write against a concurrent change
    history_chars: int = 256  # room for the history when it is kept as text
    alias_chars: int = 128  # longest alias name


@dataclass(frozen=True)
class Target:
    """An alias's routing: all traffic to `version`, or `weight` of it to `canary`."""

    version: str
    canary: str | None = None
    weight: float = 0.0

    def versions(self) -> tuple[str, ...]:
        return (self.version,) if self.canary is None else (self.version, self.canary)

    def label(self) -> str:
        if self.canary is None:
            return self.version
        return f"{self.version} + {self.canary} at {self.weight:.4g}"

    def shares(self) -> str:
        """`1 (90%) + 2 (10%)`: the label `status` shows."""
        if self.canary is None:
            return f"{self.version} (100%)"
        return f"{self.version} ({1 - self.weight:.0%}) + {self.canary} ({self.weight:.0%})"

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


def check_alias_name(name: str, limits: Limits = Limits()) -> None:
    """Letters, digits, '-' and '_', not starting with a digit (valid on every platform)."""
    if (
        not name
        or len(name) > limits.alias_chars
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
        or name[0].isdigit()
    ):
        raise AliasError(
            f"alias name {name!r}: letters, digits, '-' and '_', not starting with a digit, "
            f"at most {limits.alias_chars} characters"
        )


def target(
    version: str, canary: str | None = None, weight: float | None = None, limits: Limits = Limits()
) -> Target:
    """Validate a requested target by the alias rules (at most two versions, weight in [0, 1])."""
    for v in (version, canary):
        if v is None:
            continue
        if v == limits.latest or (limits.numbered and not (v.isdigit() and int(v) >= 1)):
            raise InvalidRequest(
                f"version {v!r}: give a published version number (1, 2, …); {limits.latest} is "
                "mutable, so a release never points an alias at it"
            )
    if canary is None:
        if weight is not None:
            raise AliasError("--weight needs --canary: the version that gets that share of traffic")
        return Target(version)
    if canary == version:
        raise AliasError(f"the canary must be another version than {version}")
    if weight is None:
        raise AliasError("--canary needs --weight, the canary's share of traffic in [0, 1]")
    if not 0.0 <= weight <= 1.0:
        raise AliasError(f"weight {weight} is outside [0, 1]")
    if limits.weight_step:
        steps = round(weight / limits.weight_step)
        if abs(steps * limits.weight_step - weight) > 1e-9:
            raise AliasError(f"weight {weight}: this platform takes steps of {limits.weight_step}")
    return Target(version, canary, float(weight))


def check_versions(
    target: Target, known: Collection[str], function: str, why: str = "", *, hint: str = ""
) -> None:
    """Refuse a target naming a version that does not exist, listing the ones that do."""
    for v in target.versions():
        if v not in known:
            listed = sorted(known, key=_order)
            shown = (
                "[" + ", ".join(listed) + "]" if listed else f"none ({hint or 'publish one first'})"
            )
            raise VersionNotFound(
                f"version {v} of {function} does not exist{why}; published versions: {shown}"
            )


def _order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)


@dataclass(frozen=True)
class Entry:
    target: Target
    since: int  # epoch seconds when the alias was set to this target; 0 when unknown


@dataclass(frozen=True)
class History:
    """Where an alias pointed before (newest last), and since when it points where it does."""

    since: int = 0  # when the current target was set
    earlier: tuple[Entry, ...] = ()  # newest last
    truncated: bool = False

    def push(self, current: Target, now: int) -> History:
        """The history after moving away from `current` at `now`."""
        return History(now, (*self.earlier, Entry(current, self.since)), self.truncated)

    def pop(self) -> tuple[Entry, History]:
        """The previous target, and the history once the alias is back there."""
        if not self.earlier:
            raise AliasError("the alias has no earlier target in its history to roll back to")
        last = self.earlier[-1]
        return last, History(last.since, self.earlier[:-1], self.truncated)

    def with_since(self, since: int) -> History:
        return replace(self, since=since)

    # -- as one line of text (an alias description, an annotation) ------------------------
    # Format: `slipway:1 since=EPOCH prev=TARGET@EPOCH,TARGET@EPOCH` (newest last), where
    # TARGET is `VERSION` or `VERSION+CANARY:WEIGHT`; the oldest entries are dropped to fit.
    def encode(self, max_chars: int = Limits.history_chars) -> str:
        entries = list(self.earlier)
        truncated = self.truncated
        while True:
            prev = ",".join(f"{e.target.token()}@{e.since}" for e in entries)
            text = f"{MAGIC} since={self.since} prev={prev}"
            if truncated:
                text += " truncated"
            if len(text) <= max_chars:
                return text
            entries.pop(0)
            truncated = True

    @classmethod
    def decode(cls, text: str | None) -> History:
        """Parse the text form; anything not written by Slipway is an empty history."""
        words = (text or "").split()
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


@dataclass(frozen=True)
class VersionInfo:
    """A published version: what it pins."""

    id: str
    model: str  # name@version
    sha256: str = ""
    created: str = ""
    description: str = ""


@dataclass(frozen=True)
class Snapshot:
    """What a platform reports for one function and alias, read-only."""

    function: str
    alias: str
    versions: tuple[VersionInfo, ...]  # oldest first
    target: Target | None  # None: the alias does not exist yet
    history: History
    token: str | None  # the concurrency token of the alias (None: nothing to guard yet)

    def version_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.versions)

    def newest(self) -> VersionInfo | None:
        """The version published last (`versions` are oldest first), if any."""
        return self.versions[-1] if self.versions else None

    def serving(self) -> VersionInfo:
        """The version the alias's primary target is (what it serves), or why there is none."""
        if self.target is None:
            raise InvalidRequest(
                f"alias {self.alias} of {self.function} does not exist yet, so there is no model "
                "to keep: name the model of the first release (--model NAME@VERSION; on AWS "
                "`--param model=NAME@VERSION`)"
            )
        found = [v for v in self.versions if v.id == self.target.version]
        if not found or "@" not in found[0].model:
            raise InvalidRequest(
                f"alias {self.alias} of {self.function} points at version {self.target.version}, "
                "which pins no model Slipway can read; name one with --model NAME@VERSION"
            )
        return found[0]
