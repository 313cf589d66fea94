"""`slipway serve`: the local platform on https://127.0.0.1:8443 (its flags; `serve` runs it)."""

from __future__ import annotations

import argparse
from typing import Any

from infra.local import config


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the function locally: HTTPS gateway + Lambda environments, no Docker",
        description="Run API Gateway and Lambda on this machine. With no alias `live` yet, "
        "publishes the newest model (or --model) as version 1 and points `live` at it.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=config.DEFAULT_PORT)
    p.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    p.add_argument(
        "--platform",
        choices=("lambda", "cloudrun"),
        default="lambda",
        help="lambda: API Gateway + Lambda environments (default); cloudrun: the image's HTTP "
        "mode behind Cloud Run's front end and autoscaler (state in STATE/cloudrun)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        help="lambda: most environments at once, like reserved concurrency (default "
        f"{config.DEFAULT_CONCURRENCY}); cloudrun: requests per instance, like "
        "containerConcurrency (default 80)",
    )
    g = p.add_argument_group("--platform cloudrun")
    g.add_argument("--max-instances", type=int, help="most instances per revision (default 100)")
    g.add_argument(
        "--min-instances", type=int, default=0, help="instances kept warm per revision with traffic"
    )
    g.add_argument("--timeout", type=float, help="request timeout in seconds (default 300)")
    g.add_argument("--cpu", type=float, help="vCPUs per instance (default 1)")
    p.add_argument(
        "--idle",
        type=float,
        default=config.DEFAULT_IDLE_S,
        help="seconds before an idle environment is reclaimed",
    )
    p.add_argument(
        "--expose",
        action="append",
        default=[],
        metavar="ALIAS",
        help="also serve ALIAS under /ALIAS/… (repeatable)",
    )
    p.add_argument(
        "--model", default="digits", help="model to publish on first run (default: newest digits)"
    )
    p.add_argument(
        "--image",
        nargs="?",
        const="",
        metavar="ARCHIVE",
        help="run environments as containers of this OCI archive (default: build one for this "
        "machine); on first run, publishes it behind live (an existing live is moved only by "
        "`slipway release --image-uri`)",
    )
    p.add_argument("--state", help="state directory (default: $SLIPWAY_STATE_DIR or ./.slipway)")
    p.add_argument("--quiet", action="store_true", help="don't print cold-start REPORT lines")
    p.add_argument(
        "--no-console",
        dest="console",
        action="store_false",
        help="no console page at /_slipway/ (the path stays the gateway's, answered 404)",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    # Here, not at the top: every `slipway` command imports this module to build its parser,
    # and the gateway brings aiohttp and the runtime (+165 ms, -X importtime), and the
    # `local` extra, which a lean install may not have.
    from infra.local.serve import serve

    return serve(args)
