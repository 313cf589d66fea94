"""Run a release verb through the real argument parser against a given Aws wrapper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra import cli
from infra.aws import commands
from infra.release import verbs
from tests.infra.aws.conftest import FUNCTION, S3_STORE

VERBS = {"alias": "alias_set"}


def run(aws: Any, *argv: str, store: Path | None = None) -> int:
    """`slipway ARGV --target aws --function FUNCTION` with `aws` instead of real clients."""
    extra = ["--target", "aws", "--function", FUNCTION]
    if argv[0] in ("publish", "release"):
        extra += ["--s3-store", S3_STORE]
        if store is not None:
            extra += ["--source-store", str(store)]
    args = cli.parser().parse_args([*argv, *extra])
    verb = verbs.VERBS[VERBS.get(argv[0], argv[0])]
    return verbs.run(verb, lambda: commands.platform(args, aws), args)
