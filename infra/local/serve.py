"""`slipway serve`: publish a first version if there is none, then run the gateway.

With no alias `live` yet, the newest model (or --model) is published as version 1 and `live`
points at it (with --image, the image). An existing `live` is never moved here: a new build
or image is released with `slipway release`, guarded as on AWS. Then the gateway (Lambda's, or Cloud Run's with --platform cloudrun) serves until
SIGINT or SIGTERM, with the console attached unless --no-console.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from infra.dirs import state_dir, store_dir
from infra.local import config
from infra.local.cloudrun import gateway
from infra.local.cloudrun.containers import revision_name, tag
from infra.local.cloudrun.platform import root_of
from infra.local.console.routes import Console
from infra.local.console.snapshot import example_request
from infra.local.gateway.server import LocalPlatform
from infra.local.platform.versions import build_version, image_version
from infra.local.runtime.artifacts import runtime_dir
from infra.local.state.store import StateStore
from model_store.backends.local import LocalStore
from model_store.manifest import parse_ref


def serve(args: argparse.Namespace) -> int:
    _bootstrap(args)
    try:
        import uvloop  # libuv's event loop: the gateway and Runtime API spend their time in I/O
    except ImportError:  # optional (no Windows wheels): asyncio's own loop then
        return asyncio.run(_serve(args))
    return int(uvloop.run(_serve(args)))


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _root(args: argparse.Namespace) -> Path:
    root = state_dir(args.state)
    if getattr(args, "platform", "lambda") == "cloudrun":
        return root_of(root)
    return root


def _bootstrap(args: argparse.Namespace) -> None:
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
    args: argparse.Namespace, root: Path, store: StateStore, archive: Path | None
) -> None:
    """Publish the image as a first version behind live. An existing live is not moved: it has
    one owner, the release (`slipway release --image-uri`), as on AWS and Cloud Run."""
    live = store.load().aliases.get("live")
    if live is not None:
        image = getattr(args, "image", None) or "ARCHIVE"
        target = "local-cloudrun" if getattr(args, "platform", "lambda") == "cloudrun" else "local"
        print(
            f"alias live -> version {live.version} stays: `slipway serve` publishes only a first "
            f"version. To run this image, release it: `slipway release --target {target} "
            f"--image-uri {image}` (smoke invoke, steps, rollback on errors)"
        )
        return
    models = store_dir(None)
    version = image_version(
        LocalStore(models).manifest(*parse_ref(args.model)),
        root,
        store=models,
        archive=archive,
        description="published by `slipway serve --image`",
    )
    with store.change() as box:
        if "live" in box[0].aliases:
            return  # someone else published a first version meanwhile
        box[0], published = box[0].publish(version)
        box[0] = box[0].set_alias("live", published.number)
        print(
            f"published predict:{published.number} (image {version.image and version.image[:19]}, "
            f"{published.model}) and pointed alias live at it"
        )


async def _serve(args: argparse.Namespace) -> int:
    root = _root(args)
    log = (
        (lambda line: None if line.startswith("REPORT") else stderr_log(line))
        if args.quiet
        else stderr_log
    )
    platform: LocalPlatform
    if args.platform == "cloudrun":
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
            console=Console if args.console else None,
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


def _print_banner(platform: LocalPlatform, url: str, root: Path) -> None:
    state = platform.state()
    live = state.aliases["live"]
    version = state.versions[live.version]
    model = version.model or "?"
    example = root / "example.json"
    body = example_request(version) or {"inputs": []}
    example.write_text(json.dumps(body) + "\n")
    cacert = f"--cacert {platform.cert} " if platform.cert else ""
    if isinstance(platform, gateway.CloudRunGateway):
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
