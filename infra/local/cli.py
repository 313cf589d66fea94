"""`slipway serve`: the local platform on https://127.0.0.1:8443."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
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
        "machine); publishes it as a new version behind live unless live already runs it",
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


def _root(args: argparse.Namespace) -> Path:
    root = config.state_dir(args.state)
    if getattr(args, "platform", "lambda") == "cloudrun":
        from infra.local.cloudrun.platform import root_of

        return root_of(root)
    return root


def _bootstrap(args: argparse.Namespace) -> None:
    from infra.local.commands import build_version, store_dir
    from infra.local.state import StateStore
    from model_store.backends.local import LocalStore
    from model_store.manifest import parse_ref

    root = _root(args)
    store = StateStore(root)
    image = getattr(args, "image", None)
    if image is None and getattr(args, "platform", "lambda") == "cloudrun":
        if "live" in store.load().aliases:
            return
        image = ""  # revisions are images: build one for this machine
    if image is not None:
        _bootstrap_image(args, root, store, Path(image) if image else None)
        return
    if "live" in store.load().aliases:
        return
    models = store_dir(None)
    version = build_version(
        LocalStore(models).manifest(*parse_ref(args.model)),
        root,
        store=models,
        description="published by `slipway serve` on first run",
    )
    with store.change() as box:
        if "live" not in box[0].aliases:
            box[0], published = box[0].publish(version)
            box[0] = box[0].set_alias("live", published.number)
            print(
                f"published predict:{published.number} ({published.model}) and pointed alias live at it"
            )


def _bootstrap_image(
    args: argparse.Namespace, root: Path, store: Any, archive: Path | None
) -> None:
    """Publish the image as a version and point live at it, unless live already runs it."""
    from infra.local.commands import image_version, store_dir
    from model_store.backends.local import LocalStore
    from model_store.manifest import parse_ref

    models = store_dir(None)
    version = image_version(
        LocalStore(models).manifest(*parse_ref(args.model)),
        root,
        store=models,
        archive=archive,
        description="published by `slipway serve --image`",
    )
    with store.change() as box:
        state = box[0]
        live = state.aliases.get("live")
        current = state.versions.get(live.version) if live else None
        if current is not None and (current.image, current.model) == (version.image, version.model):
            return
        box[0], published = state.publish(version)
        box[0] = box[0].set_alias("live", published.number)
        print(
            f"published predict:{published.number} (image {version.image and version.image[:19]}, "
            f"{published.model}) and pointed alias live at it"
        )


def cmd_serve(args: argparse.Namespace) -> int:
    _bootstrap(args)
    try:
        import uvloop  # libuv's event loop: the gateway and Runtime API spend their time in I/O

        return int(uvloop.run(_serve(args)))
    except ImportError:
        return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from infra.local.artifacts import runtime_dir
    from infra.local.server import LocalPlatform, stderr_log

    root = _root(args)
    log = (
        (lambda line: None if line.startswith("REPORT") else stderr_log(line))
        if args.quiet
        else stderr_log
    )
    platform: LocalPlatform
    if args.platform == "cloudrun":
        from infra.local.cloudrun import gateway

        platform = gateway.CloudRunGateway(
            root,
            host=args.host,
            port=args.port,
            tls=not args.http,
            concurrency=args.concurrency or gateway.DEFAULT_CONCURRENCY,
            max_instances=args.max_instances or gateway.DEFAULT_MAX_INSTANCES,
            min_instances=args.min_instances,
            timeout_s=args.timeout or gateway.DEFAULT_TIMEOUT_S,
            cpus=args.cpu or gateway.DEFAULT_CPUS,
            idle_s=args.idle,
            log=log,
        )
    else:
        platform = LocalPlatform(
            root,
            runtime_dir=runtime_dir(root),
            host=args.host,
            port=args.port,
            tls=not args.http,
            concurrency=args.concurrency or config.DEFAULT_CONCURRENCY,
            idle_s=args.idle,
            expose=tuple(args.expose),
            console=args.console,
            log=log,
        )
    url = await platform.start()
    _print_banner(platform, url, root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("stopping: environments are shut down", file=sys.stderr)
    await platform.stop()
    return 0


def _print_banner(platform: Any, url: str, root: Any) -> None:
    from infra.local.console.snapshot import example_request

    state = platform.state()
    live = state.aliases["live"]
    version = state.versions[live.version]
    model = version.model or "?"
    example = root / "example.json"
    body = example_request(version) or {"inputs": []}
    example.write_text(json.dumps(body) + "\n")
    cacert = f"--cacert {platform.cert} " if platform.cert else ""
    if getattr(platform, "instances", None) is not None:
        from infra.local.cloudrun.containers import revision_name, tag

        name = revision_name(state.function, live.version)
        print(
            f"Slipway local Cloud Run on {url} (service {state.function}: live -> {name}, model {model})"
        )
        print(f"Each revision also answers under its tag: {url}/{tag(live.version)}/…")
        print("Scaling: `slipway status --target local-cloudrun`")
    else:
        print(
            f"Slipway local platform on {url} (alias live -> version {live.version}, model {model})"
        )
    if platform.cert:
        print(f"TLS certificate: {platform.cert}")
    print(f"Function logs: {root / 'logs' / 'functions.log'}")
    if platform.console:
        print(f"Console: {url}/_slipway/   API docs: {url}/docs")
    print("Try:")
    print(f"  curl {cacert}-H 'content-type: application/json' -d @{example} {url}/predict")
    print(f"  curl {cacert}{url}/health")
    print("Ctrl-C stops.", flush=True)
