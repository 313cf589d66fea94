"""Run a release verb through the real argument parser against a given Aws wrapper; make a
new version fail under traffic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
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


def spike_on_canary(
    lam: Any, cloudwatch: Any, function: str, fired: threading.Event, errors: float = 7
) -> threading.Thread:
    """Once `live` has a canary, write `errors` Errors for the canary's version, as Lambda's
    metrics would show a new version failing under traffic; `fired` says it happened."""

    def watch() -> None:
        for _ in range(1200):
            weights = lam.get_alias(FunctionName=function, Name="live").get("RoutingConfig")
            canary = list((weights or {}).get("AdditionalVersionWeights", {}))
            if canary:
                dims = {
                    "FunctionName": function,
                    "Resource": f"{function}:live",
                    "ExecutedVersion": canary[0],
                }
                cloudwatch.put_metric_data(
                    Namespace="AWS/Lambda",
                    MetricData=[
                        {
                            "MetricName": "Errors",
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                            "Timestamp": datetime.now(UTC),
                            "Value": errors,
                            "Unit": "Count",
                        }
                    ],
                )
                fired.set()
                return
            threading.Event().wait(0.1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread
