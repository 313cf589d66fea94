"""The release verbs for `--target aws` (see infra/release_cli.py).

Each verb builds a plan with read-only calls, prints it, and with `--dry-run` stops there;
otherwise it executes the plan. Region, profile and endpoint are boto3's usual settings.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from infra.aws import alias as alias_ops
from infra.aws.client import Aws
from infra.aws.errors import aws_errors
from infra.aws.exceptions import AwsReleaseError
from infra.aws.history import target
from infra.aws.publish import CodeChange, execute_publish, plan_publish
from infra.aws.release import Watch, execute_release, plan_release
from infra.aws.settings import Settings
from infra.aws.status import gather, render


def connect(settings: Settings) -> Aws:
    import boto3

    with aws_errors("connecting to AWS"):
        session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
        return Aws(
            session.client("lambda"),
            s3=session.client("s3"),
            cloudwatch=session.client("cloudwatch"),
        )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_mapping(
        os.environ, function=args.function, s3_store=getattr(args, "s3_store", None)
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _show_plan(lines: list[str], dry_run: bool) -> None:
    _say("plan:" if not dry_run else "plan (dry run):")
    for line in lines:
        _say(f"  {line}")


def _now() -> datetime:
    return datetime.now(UTC)


def verb(func: Callable[[argparse.Namespace, Aws], int]) -> Callable[..., int]:
    """Connect (unless a test passes `aws`), run, and print AWS errors without a traceback."""

    @functools.wraps(func)
    def run(args: argparse.Namespace, aws: Aws | None = None) -> int:
        try:
            return func(args, aws or connect(_settings(args)))
        except AwsReleaseError as exc:
            name = func.__name__.replace("_", " ")
            print(f"slipway {name}: error: {exc}", file=sys.stderr)
            return 1

    return run


def _source(args: argparse.Namespace) -> Any:
    from model_store.backends import open_store

    return open_store(getattr(args, "source_store", None))


def _publish_plan(args: argparse.Namespace, aws: Aws) -> Any:
    return plan_publish(
        aws,
        function=_settings(args).function,
        ref=args.model,
        source=_source(args),
        s3_store=_settings(args).s3_store,
        code=CodeChange.of(getattr(args, "zip", None), getattr(args, "image_uri", None)),
        note=getattr(args, "description", "") or "",
    )


@verb
def publish(args: argparse.Namespace, aws: Aws) -> int:
    plan = _publish_plan(args, aws)
    _show_plan(plan.lines(), args.dry_run)
    if args.dry_run:
        return 0
    published = execute_publish(aws, plan, _source(args))
    _say(f"published version {published['Version']} of {plan.function} serving {plan.manifest.ref}")
    return 0


@verb
def alias_set(args: argparse.Namespace, aws: Aws) -> int:
    wanted = target(args.version, args.canary, args.weight)
    fn = _settings(args).function
    plan = alias_ops.plan_set(aws, fn, args.alias, wanted, int(_now().timestamp()))
    _show_plan(plan.lines(), args.dry_run)
    if args.dry_run or plan.noop:
        return 0
    alias_ops.execute(aws, plan)
    _say(f"alias {plan.alias} of {fn} -> {plan.after.label()}")
    return 0


@verb
def rollback(args: argparse.Namespace, aws: Aws) -> int:
    fn = _settings(args).function
    plan = alias_ops.plan_rollback(aws, fn, args.alias)
    _show_plan(plan.lines(), args.dry_run)
    if args.dry_run:
        return 0
    alias_ops.execute(aws, plan)
    _say(f"alias {plan.alias} of {fn} -> {plan.after.label()} (rolled back)")
    return 0


@verb
def status(args: argparse.Namespace, aws: Aws) -> int:
    state = gather(aws, _settings(args).function)
    _say(json.dumps(state, indent=2) if args.json else render(state))
    return 0


@verb
def release(args: argparse.Namespace, aws: Aws) -> int:
    watch = Watch.parse(args.steps, args.wait, args.poll, args.alarm, args.max_errors)
    plan = plan_release(aws, _publish_plan(args, aws), args.alias, watch, smoke=not args.skip_smoke)
    _show_plan(plan.lines(), args.dry_run)
    if args.dry_run:
        return 0
    new = execute_release(aws, plan, _source(args), clock=_now, log=_say)
    _say(f"released version {new} ({plan.publish.manifest.ref}) on alias {plan.alias}")
    return 0
