"""The one renderer of plans: what `--dry-run` prints (and `release --json` returns).

A plan is a frozen dataclass whose `steps` are what its executor does, in order, made from
the plan's own fields; a step is a frozen dataclass whose class says it in one line (`TEXT`,
formatted with the step's fields), or a plan itself (a release's publish step is the
platform's publish plan). The dry run prints the very object the executor then runs, and no
plan writes its own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, ClassVar, Protocol, runtime_checkable


class Step(Protocol):
    """One thing a plan does, said by `TEXT.format(**its fields)`."""

    TEXT: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Any]]


@runtime_checkable
class Plan(Protocol):
    @property
    def steps(self) -> Sequence[Step | Plan]:
        """What the executor does, in order."""
        ...


def render(plan: Plan) -> list[str]:
    """The plan's steps, one line each, a nested plan's in its place."""
    out: list[str] = []
    for step in plan.steps:
        if isinstance(step, Plan):
            out += render(step)
        else:
            out.append(step.TEXT.format(**{f.name: getattr(step, f.name) for f in fields(step)}))
    return out


def describe(plan: Plan, dry_run: bool) -> list[str]:
    """The plan as printed: `--dry-run` prints this and stops."""
    return ["plan (dry run):" if dry_run else "plan:", *(f"  {line}" for line in render(plan))]
