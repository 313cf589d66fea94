"""A version to publish on the local platform: its artifact built for this machine.

From the function zip and layer zip (unpacked where its environments run them), or from a
container image, with the model it pins in its environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from functions.predict.config import MODEL, MODEL_SHA256, STORE
from infra.build import build, host_target
from infra.image.builder import build_image
from infra.image.podman import local_engine
from infra.local.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, HANDLER
from infra.local.runtime.artifacts import unpack
from infra.local.state.store import Version
from model_store.manifest import Manifest


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def build_version(manifest: Manifest, root: Path, *, store: str, description: str = "") -> Version:
    """Build the artifact for this machine, unpack it, and describe the version to publish."""
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
    if image is None and archive is None:
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
