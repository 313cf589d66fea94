"""`slipway alias set` and `slipway rollback` on AWS: plan, then one guarded UpdateAlias.

Every move writes the alias's history into its description in the same call and passes the
RevisionId read at planning time, so a move by someone else in between fails cleanly
(PreconditionFailedException) instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infra.aws.client import Aws
from infra.aws.exceptions import Conflict, NotFound
from infra.aws.history import History, Target


@dataclass(frozen=True)
class AliasPlan:
    function: str
    alias: str
    before: Target | None  # None: the alias does not exist yet
    after: Target
    history: History  # written with the move
    revision_id: str | None  # the alias's RevisionId when read
    action: str = "set"

    @property
    def noop(self) -> bool:
        return self.before == self.after and self.action == "set"

    def lines(self) -> list[str]:
        if self.noop:
            return [f"alias {self.alias} of {self.function} already points at {self.after.label()}"]
        if self.before is None:
            return [f"create alias {self.alias} of {self.function} -> {self.after.label()}"]
        return [
            f"{self.action}: move alias {self.alias} of {self.function} "
            f"from {self.before.label()} to {self.after.label()} "
            f"(guarded by RevisionId {self.revision_id})"
        ]


def version_numbers(aws: Aws, function: str) -> list[int]:
    return [int(v["Version"]) for v in aws.versions(function)]


def check_versions(aws: Aws, function: str, versions: Iterable[str], why: str = "") -> None:
    """Refuse a target naming a version that does not exist, listing the ones that do."""
    known = version_numbers(aws, function)
    for v in versions:
        if int(v) not in known:
            raise NotFound(
                f"version {v} of {function} does not exist{why}; published versions: "
                f"{known or 'none (run `slipway publish --target aws`)'}"
            )


def current(aws: Aws, function: str, alias: str) -> tuple[dict[str, Any] | None, History]:
    found = aws.alias(function, alias)
    return found, History.decode(found.get("Description") if found else None)


def plan_set(aws: Aws, function: str, alias: str, target: Target, now: int) -> AliasPlan:
    check_versions(aws, function, target.versions())
    found, history = current(aws, function, alias)
    if found is None:
        return AliasPlan(function, alias, None, target, History(since=now), None)
    before = Target.from_alias(found)
    if before == target:
        return AliasPlan(function, alias, before, target, history, found.get("RevisionId"))
    return AliasPlan(
        function, alias, before, target, history.push(before, now), found.get("RevisionId")
    )


def plan_rollback(aws: Aws, function: str, alias: str) -> AliasPlan:
    found, history = current(aws, function, alias)
    if found is None:
        raise NotFound(f"alias {alias} of {function} does not exist; nothing to roll back")
    entry, rest = history.pop()
    check_versions(
        aws,
        function,
        entry.target.versions(),
        f" (alias {alias} pointed at {entry.target.label()} before; was the version deleted?). "
        f"Point the alias explicitly with `slipway alias set {alias} N --target aws`",
    )
    return AliasPlan(
        function,
        alias,
        Target.from_alias(found),
        entry.target,
        rest,
        found.get("RevisionId"),
        action="rollback",
    )


def execute(aws: Aws, plan: AliasPlan) -> dict[str, Any]:
    """Make the move; returns the alias as AWS reports it afterwards."""
    description = plan.history.encode()
    if plan.before is None:
        result = aws.create_alias(plan.function, plan.alias, plan.after, description)
    else:
        result = aws.update_alias(
            plan.function, plan.alias, plan.after, description, plan.revision_id
        )
    landed = Target.from_alias(result)
    if landed != plan.after:
        raise Conflict(
            f"alias {plan.alias} of {plan.function} reports {landed.label()} after the move, not "
            f"{plan.after.label()}; run `slipway status --target aws` and set it again"
        )
    return result
