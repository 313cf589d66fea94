"""Release verbs for `--target local`: publish, alias set, rollback, status.

Each write builds a plan (what will change) first; `--dry-run` prints it and stops.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from infra.local.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, HANDLER, state_dir
from infra.local.exceptions import AliasError
from infra.local.state import State, StateStore, Version


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def build_version(
    model_ref: str, root: Path, *, store: str | None = None, description: str = ""
) -> Version:
    """Build the artifact for this machine, unpack it, and describe the version to publish."""
    from functions.predict.config import MODEL, MODEL_SHA256, STORE
    from infra.build import build, host_target
    from infra.local.artifacts import unpack
    from model_store.backends import STORE_ENV
    from model_store.backends.local import LocalStore
    from model_store.manifest import parse_ref

    name, number = parse_ref(model_ref)
    local = LocalStore(store or os.environ.get(STORE_ENV) or None)
    manifest = local.manifest(name, number)
    target = host_target()
    _progress(
        f"building the function and its layer for this machine ({target.arch}, Python {target.python})"
    )
    result = build(target, progress=_progress)
    task = unpack(result.function_zip, root / "code" / "function", result.function_sha256)
    layer = unpack(result.layer_zip, root / "code" / "layer", result.layer_sha256)
    return Version(
        number=0,
        handler=HANDLER,
        code=(str(task), str(layer / "python")),
        env={MODEL: manifest.ref, MODEL_SHA256: manifest.sha256, STORE: str(local.root.resolve())},
        memory_mb=DEFAULT_MEMORY_MB,
        timeout_s=DEFAULT_TIMEOUT_S,
        model=manifest.ref,
        model_sha256=manifest.sha256,
        artifact={"function_sha256": result.function_sha256, "layer_sha256": result.layer_sha256},
        description=description,
    )


def publish(args: argparse.Namespace) -> int:
    root = state_dir(args.state)
    version = build_version(args.model, root, description=args.description)
    if args.dry_run:
        print("plan: publish a new version of predict")
        print(json.dumps(_version_dict(version), indent=2))
        return 0
    store = StateStore(root)
    with store.change() as box:
        box[0], published = box[0].publish(version)
    print(
        f"published predict:{published.number} serving {published.model} (sha256 {published.model_sha256})"
    )
    return 0


def alias_set(args: argparse.Namespace) -> int:
    version = _number(args.version)
    canary = _number(args.canary) if args.canary is not None else None
    store = StateStore(state_dir(args.state))
    if args.dry_run:
        current = store.load()
        current.set_alias(args.alias, version, canary, args.weight)  # validates, changes nothing
        print(
            f"plan: alias {args.alias}: {_target(current, args.alias)} -> {_describe(version, canary, args.weight)}"
        )
        return 0
    with store.change() as box:
        before = _target(box[0], args.alias)
        box[0] = box[0].set_alias(args.alias, version, canary, args.weight)
    print(f"alias {args.alias}: {before} -> {_describe(version, canary, args.weight)}")
    return 0


def rollback(args: argparse.Namespace) -> int:
    store = StateStore(state_dir(args.state))
    if args.dry_run:
        current = store.load()
        after = current.rollback(args.alias).alias(args.alias)
        print(
            f"plan: alias {args.alias}: {_target(current, args.alias)} -> {_describe(*after.target())}"
        )
        return 0
    with store.change() as box:
        before = _target(box[0], args.alias)
        box[0] = box[0].rollback(args.alias)
        after = box[0].alias(args.alias)
    print(f"alias {args.alias} rolled back: {before} -> {_describe(*after.target())}")
    return 0


def status(args: argparse.Namespace) -> int:
    state = StateStore(state_dir(args.state)).load()
    if args.json:
        print(json.dumps(state.to_dict(), indent=2))
        return 0
    if not state.versions:
        print("no versions yet: run `slipway publish --model digits@1`")
        return 0
    print(f"function {state.function}")
    print(f"  {'VERSION':<8} {'MODEL':<20} {'MODEL SHA256':<18} {'ARTIFACT':<14} CREATED")
    for n, v in sorted(state.versions.items()):
        digest = (v.artifact.get("function_sha256") or "-")[:12]
        print(
            f"  {n:<8} {v.model or '-':<20} {(v.model_sha256 or '-')[:16]:<18} {digest:<14} {v.created_at}"
        )
    for name, alias in sorted(state.aliases.items()):
        history = " <- ".join(_describe(*t) for t in reversed(alias.history)) or "none"
        print(f"alias {name}: {_describe(*alias.target())}   (earlier: {history})")
    return 0


def _number(raw: str) -> int:
    if raw == "$LATEST":
        raise AliasError("the local platform has no $LATEST: publish a version and use its number")
    try:
        return int(raw)
    except ValueError:
        raise AliasError(f"version {raw!r} is not a number") from None


def _describe(version: int, canary: int | None = None, weight: float | None = None) -> str:
    if canary is None:
        return f"version {version}"
    w = float(weight or 0.0)
    return f"version {version} ({1 - w:.0%}) + canary {canary} ({w:.0%})"


def _target(state: State, alias: str) -> str:
    current = state.aliases.get(alias)
    return _describe(*current.target()) if current else "(new)"


def _version_dict(version: Version) -> dict[str, Any]:
    return State(versions={0: version}).to_dict()["versions"]["0"]
