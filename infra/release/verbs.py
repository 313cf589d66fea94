"""The release verbs, once for every platform: publish, alias set, rollback, status, release.

Each write verb plans with read-only calls, prints the plan, and with `--dry-run` stops
there; otherwise the engine executes it. Errors of the engine and the platforms are printed
without a traceback and give exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from infra.release.engine import describe, execute_release, move
from infra.release.exceptions import ReleaseError
from infra.release.model import check_alias_name, target
from infra.release.plan import Watch, plan_release, plan_rollback, plan_set
from infra.release.platform import Platform

Verb = Callable[[Platform[Any], argparse.Namespace], int]


def say(line: str) -> None:
    print(line, flush=True)


def now() -> datetime:
    return datetime.now(UTC)


def run(verb: Verb, platform: Callable[[], Platform[Any]], args: argparse.Namespace) -> int:
    """Build the platform (connecting to it), run the verb, print release errors plainly."""
    try:
        return verb(platform(), args)
    except ReleaseError as exc:
        name = verb.__name__.replace("_", " ")
        print(f"slipway {name}: error: {exc}", file=sys.stderr)
        return 1


def _plan(lines: list[str], dry_run: bool) -> None:
    for line in describe(lines, dry_run):
        say(line)


def publish(p: Platform[Any], args: argparse.Namespace) -> int:
    step = p.plan_publish(args.model, getattr(args, "description", "") or "")
    _plan(step.lines(), args.dry_run)
    if args.dry_run:
        return 0
    say(step.done(p.publish(step)))
    return 0


def alias_set(p: Platform[Any], args: argparse.Namespace) -> int:
    check_alias_name(args.alias, p.limits)
    wanted = target(args.version, args.canary, args.weight, p.limits)
    plan = plan_set(
        p.read(args.alias),
        wanted,
        int(now().timestamp()),
        token_name=p.limits.token,
        hint=f"run `slipway publish --target {p.name}`",
    )
    _plan(plan.lines(), args.dry_run)
    if args.dry_run or plan.noop:
        return 0
    move(p, plan)
    say(f"alias {plan.alias} of {p.function} -> {plan.after.label()}")
    return 0


def rollback(p: Platform[Any], args: argparse.Namespace) -> int:
    plan = plan_rollback(
        p.read(args.alias), token_name=p.limits.token, target_flag=f"--target {p.name}"
    )
    _plan(plan.lines(), args.dry_run)
    if args.dry_run:
        return 0
    move(p, plan)
    say(f"alias {plan.alias} of {p.function} -> {plan.after.label()} (rolled back)")
    return 0


def status(p: Platform[Any], args: argparse.Namespace) -> int:
    say(p.status(args.json))
    return 0


def release(p: Platform[Any], args: argparse.Namespace) -> int:
    check_alias_name(args.alias, p.limits)
    watch = Watch.parse(args.steps, args.wait, args.poll, args.alarm, args.max_errors)
    step = p.plan_publish(args.model, getattr(args, "description", "") or "")
    signals, notes = p.signals(watch)
    plan = plan_release(
        p.read(args.alias), step, watch, signals=signals, smoke=not args.skip_smoke, notes=notes
    )
    _plan(plan.lines(), args.dry_run)
    if args.dry_run:
        return 0
    new = execute_release(p, plan, clock=now, log=say)
    say(f"released version {new} ({step.manifest.ref}) on alias {plan.alias}")
    return 0


VERBS: dict[str, Verb] = {
    "publish": publish,
    "alias_set": alias_set,
    "rollback": rollback,
    "status": status,
    "release": release,
}
