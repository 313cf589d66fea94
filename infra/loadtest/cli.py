"""`slipway loadtest URL`: Locust, headless and bounded, with a report split by model version."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from infra.loadtest import config
from infra.loadtest.exceptions import LoadTestError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "loadtest",
        help="load-test an endpoint with Locust (bounded); report latency, errors, by version",
        description="POST generated /predict bodies to URL with Locust, headless, until "
        "--duration or --requests runs out. Writes loadtest.json, loadtest.md and PNG charts.",
    )
    p.add_argument("url", help="predict URL, e.g. https://127.0.0.1:8443/predict")
    p.add_argument("--users", type=int, default=config.DEFAULT_USERS, help="concurrent users")
    p.add_argument("--spawn-rate", type=float, default=0.0, help="users started per second")
    p.add_argument(
        "--duration", type=float, default=config.DEFAULT_DURATION_S, help="seconds, at most"
    )
    p.add_argument(
        "--requests", type=int, default=config.DEFAULT_REQUESTS, help="request budget (0: none)"
    )
    p.add_argument("--batch", type=int, default=config.DEFAULT_BATCH, help="rows per request")
    p.add_argument(
        "--model", help="make bodies from NAME[@VERSION] in the local store, not GET /model"
    )
    p.add_argument(
        "--store", help="local model store (default: $SLIPWAY_STORE or model_store/models)"
    )
    p.add_argument("--cacert", help="CA certificate to verify the endpoint (self-signed)")
    p.add_argument("--insecure", action="store_true", help="do not verify TLS")
    p.add_argument("--out", default="loadtest-report", help="report directory")
    p.set_defaults(func=cmd_loadtest)


def _check(args: argparse.Namespace) -> None:
    problems = []
    if args.users < 1:
        problems.append("--users must be at least 1")
    if args.duration <= 0:
        problems.append("--duration must be positive")
    if args.requests < 0:
        problems.append("--requests cannot be negative")
    if args.batch < 1:
        problems.append("--batch must be at least 1")
    if args.cacert and not Path(args.cacert).is_file():
        problems.append(f"--cacert {args.cacert}: no such file")
    if problems:
        raise LoadTestError("; ".join(problems))


def cmd_loadtest(args: argparse.Namespace) -> int:
    # Here, not at the top: every `slipway` command imports this module to build its parser;
    # these add 12 ms (-X importtime) and Locust when the load runs (the `bench` extra).
    from infra.loadtest import payload, report, runner, source

    _check(args)
    host, path = source.split_url(args.url)
    if args.model:
        manifest = source.local_manifest(args.model, args.store)
    else:
        manifest = source.fetch_manifest(host, cacert=args.cacert, insecure=args.insecure)
    cfg = config.LoadTestConfig(
        host=host,
        path=path,
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        max_requests=args.requests,
        batch=args.batch,
        cacert=args.cacert,
        insecure=args.insecure,
    )
    body = payload.body_for(manifest, args.batch)
    print(
        f"loading {host}{path}: {cfg.users} users, batch {cfg.batch}, up to {cfg.duration_s:g} s"
        + (f" or {cfg.max_requests} requests" if cfg.max_requests else ""),
        file=sys.stderr,
    )
    result = runner.run(cfg, body)
    model = {"name": manifest.get("name"), "version": manifest.get("version")}
    paths = report.write(Path(args.out), cfg, result.records, model)
    print(Path(paths["markdown"]).read_text())
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0
