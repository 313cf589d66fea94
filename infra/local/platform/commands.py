"""`--target local` for the release verbs: builds the platform, the artifact, the status view.

The verbs themselves are the engine's (`infra.release.verbs`); this module holds what is the
local platform's own: building and unpacking a version's artifact, and rendering its state.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from infra.local.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, HANDLER, state_dir
from infra.local.platform import LocalReleasePlatform
from infra.local.state import State, Version
from model_store.manifest import Manifest


def platform(args: argparse.Namespace) -> LocalReleasePlatform:
    return LocalReleasePlatform(
        state_dir(args.state), store=store_dir(getattr(args, "source_store", None))
    )


def store_dir(explicit: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The local model store: --source-store beats $SLIPWAY_STORE beats the default."""
    from model_store.backends import STORE_ENV
    from model_store.backends.local import LocalStore

    return str(LocalStore(explicit or env.get(STORE_ENV) or None).root.resolve())


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def build_version(manifest: Manifest, root: Path, *, store: str, description: str = "") -> Version:
    """Build the artifact for this machine, unpack it, and describe the version to publish."""
    from functions.predict.config import MODEL, MODEL_SHA256, STORE
    from infra.build import build, host_target
    from infra.local.artifacts import unpack

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
        env={MODEL: manifest.ref, MODEL_SHA256: manifest.sha256, STORE: store},
        memory_mb=DEFAULT_MEMORY_MB,
        timeout_s=DEFAULT_TIMEOUT_S,
        model=manifest.ref,
        model_sha256=manifest.sha256,
        artifact={"function_sha256": result.function_sha256, "layer_sha256": result.layer_sha256},
        description=description,
    )


def image_version(
    manifest: Manifest,
    root: Path,
    *,
    store: str,
    archive: Path | None = None,
    image: str | None = None,
    description: str = "",
) -> Version:
    """A version whose environments are containers of the image (`image`, an id podman has;
    else the archive; else one built for this machine), serving `manifest` from the store,
    mounted read-only."""
    from functions.predict.config import MODEL, MODEL_SHA256, STORE
    from infra.image.podman import local_engine

    if image is None and archive is None:
        from infra.build import host_target
        from infra.image.builder import build_image

        _progress(f"building the image for this machine ({host_target().arch})")
        archive = build_image(host_target().arch, progress=_progress).archive
    if image is None:
        assert archive is not None
        _progress(f"loading {archive} into podman")
        image = local_engine(root).load(archive)
    return Version(
        number=0,
        handler=HANDLER,
        code=(store,),  # mounted read-only at the same path: the model store
        env={MODEL: manifest.ref, MODEL_SHA256: manifest.sha256, STORE: store},
        memory_mb=DEFAULT_MEMORY_MB,
        timeout_s=DEFAULT_TIMEOUT_S,
        model=manifest.ref,
        model_sha256=manifest.sha256,
        artifact={"image": image},
        description=description,
        image=image,
    )


def render_status(state: State) -> str:
    if not state.versions:
        return "no versions yet: run `slipway publish --model digits@1`"
    lines = [
        f"function {state.function}",
        f"  {'VERSION':<8} {'MODEL':<20} {'MODEL SHA256':<18} {'ARTIFACT':<14} CREATED",
    ]
    for n, v in sorted(state.versions.items()):
        digest = (v.artifact.get("function_sha256") or "-")[:12]
        lines.append(
            f"  {n:<8} {v.model or '-':<20} {(v.model_sha256 or '-')[:16]:<18} {digest:<14} {v.created_at}"
        )
    for name, alias in sorted(state.aliases.items()):
        history = " <- ".join(e.target.label() for e in reversed(alias.history.earlier)) or "none"
        lines.append(
            f"alias {name} -> {alias.routing().shares()} (revision {alias.revision}; "
            f"earlier: {history})"
        )
    return "\n".join(lines)
