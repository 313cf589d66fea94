"""The release verbs, once for every platform: publish, alias set, rollback, status, release.

Each write verb plans with read-only calls, prints the plan, and with `--dry-run` stops
there; otherwise the engine executes it. Errors of the engine and the platforms are printed
without a traceback; the exit code says which kind (`EXIT_CODES`, documented in the release
verb's --help epilog), so a pipeline can tell a rollback from a conflict from a refusal.
`release --json` prints its progress on stderr and one JSON result on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from infra.release.engine import execute_release, move
from infra.release.exceptions import CanaryFailed, Conflict, PartialRelease, ReleaseError
from infra.release.model import check_alias_name, target
from infra.release.plan import Compared, Watch, plan_release, plan_rollback, plan_set
from infra.release.platform import Platform
from infra.release.render import Plan, describe, render

# A verb returns its exit code, or (release) its result for --json, which means exit code 0.
Verb = Callable[[Platform[Any], argparse.Namespace], "int | dict[str, Any]"]

# (exit code, result) by error class, most specific first; any other ReleaseError is refused.
EXIT_CODES: tuple[tuple[type[ReleaseError], int, str], ...] = (
    (CanaryFailed, 3, "rolled_back"),
    (Conflict, 4, "conflict"),
    (PartialRelease, 5, "partial"),
)
REFUSED = (1, "refused")


def exit_code(exc: ReleaseError) -> tuple[int, str]:
    return next(((c, r) for kind, c, r in EXIT_CODES if isinstance(exc, kind)), REFUSED)


def say(line: str) -> None:
    print(line, flush=True)


def now() -> datetime:
    return datetime.now(UTC)


def run(verb: Verb, platform: Callable[[], Platform[Any]], args: argparse.Namespace) -> int:
    """Build the platform (connecting to it), run the verb, print release errors plainly."""
    # `status --json` is its own output; for release, --json keeps stdout for the result.
    as_json = bool(getattr(args, "json", False)) and verb is release
    out = sys.stdout
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    try:
        with quiet:
            done = verb(platform(), args)
    except ReleaseError as exc:
        name = verb.__name__.replace("_", " ")
        print(f"slipway {name}: error: {exc}", file=sys.stderr)
        code, result = exit_code(exc)
        if as_json:
            print(json.dumps({"result": result, "exit_code": code, "error": str(exc)}), file=out)
        return code
    except Exception as exc:
        # Not the engine's (a store's, a client's): the CLI prints it; the pipeline gets JSON.
        if as_json:
            print(json.dumps({"result": "error", "exit_code": 1, "error": str(exc)}), file=out)
        raise
    if isinstance(done, dict):
        if as_json:
            print(json.dumps({**done, "exit_code": 0}), file=out, flush=True)
        return 0
    return done


def _plan(plan: Plan, dry_run: bool) -> None:
    for line in describe(plan, dry_run):
        say(line)


def publish(p: Platform[Any], args: argparse.Namespace) -> int:
    step = p.plan_publish(args.model, getattr(args, "description", "") or "")
    _plan(step, args.dry_run)
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
    _plan(plan, args.dry_run)
    if args.dry_run or plan.noop:
        return 0
    move(p, plan)
    say(f"alias {plan.alias} of {p.function} -> {plan.after.label()}")
    return 0


def rollback(p: Platform[Any], args: argparse.Namespace) -> int:
    plan = plan_rollback(
        p.read(args.alias), token_name=p.limits.token, target_flag=f"--target {p.name}"
    )
    _plan(plan, args.dry_run)
    if args.dry_run:
        return 0
    move(p, plan)
    say(f"alias {plan.alias} of {p.function} -> {plan.after.label()} (rolled back)")
    return 0


def status(p: Platform[Any], args: argparse.Namespace) -> int:
    say(p.status(args.json))
    return 0


def release(p: Platform[Any], args: argparse.Namespace) -> int | dict[str, Any]:
    """Release `--model`, or (no --model) the model the alias serves now: a release of new
    code or configuration. A release that would publish what exists moves nothing."""
    check_alias_name(args.alias, p.limits)
    watch = Watch.parse(args.steps, args.wait, args.poll, args.alarm, args.max_errors)
    snap = p.read(args.alias)
    model = args.model or snap.serving().model
    if not args.model:
        say(f"model: {model}, what alias {args.alias} serves now (no --model: it stays)")
    step = p.plan_publish(model, getattr(args, "description", "") or "")
    signals, notes = p.signals(watch)
    live = newest = None
    if snap.target is not None and snap.target.canary is None:
        served = snap.serving()
        live = Compared(served, p.pins(served.id))
    if not args.model and (last := snap.newest()) is not None:
        newest = live if live and live.version == last else Compared(last, p.pins(last.id))
    plan = plan_release(
        snap,
        step,
        watch,
        signals=signals,
        smoke=not args.skip_smoke,
        notes=notes,
        live=live,
        newest=newest,
    )
    _plan(plan, args.dry_run)
    base = {"platform": p.name, "function": p.function, "alias": plan.alias}
    if args.dry_run:
        return {"result": "dry_run", **base, "plan": render(plan)}
    new = execute_release(p, plan, clock=now, log=say)
    done = {
        **base,
        "version": new,
        "model": step.manifest.ref,
        "sha256": step.manifest.sha256,
        "previous": plan.before.label() if plan.before else None,
    }
    if not plan.moves:
        assert plan.before is not None
        say(f"unchanged: alias {plan.alias} stays on {plan.before.label()}")
        return {"result": "unchanged", **done, "version": plan.before.version}
    say(f"released version {new} ({step.manifest.ref}) on alias {plan.alias}")
    return {"result": "released", **done}


VERBS: dict[str, Verb] = {
    "publish": publish,
    "alias_set": alias_set,
    "rollback": rollback,
    "status": status,
    "release": release,
}
