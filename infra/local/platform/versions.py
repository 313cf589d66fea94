"""A version to publish on the local platform: its artifact built for this machine.

From the function zip and layer zip (unpacked where its environments run them), or from a
container image, with the model it pins in its environment.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from functions.predict.config import MODEL, MODEL_SHA256, STORE
from infra.build import BuildResult, build, host_target
from infra.image.builder import build_image
from infra.image.podman import local_engine
from infra.local.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, HANDLER
from infra.local.runtime.artifacts import unpack
from infra.local.state.store import Version
from infra.release.model import Pins, pins_of
from model_store.manifest import Manifest


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def build_here() -> BuildResult:
    """The function and its layer built for this machine, from this checkout (cached)."""
    target = host_target()
    _progress(
        f"building the function and its layer for this machine ({target.arch}, Python {target.python})"
    )
    return build(target, progress=_progress)


def _zip_artifact(built: BuildResult) -> dict[str, str]:
    return {"function_sha256": built.function_sha256, "layer_sha256": built.layer_sha256}


def zip_version(
    manifest: Manifest, root: Path, *, store: str, built: BuildResult, description: str = ""
) -> Version:
    """Unpack a build, and describe the version to publish."""
    task = unpack(built.function_zip, root / "code" / "function", built.function_sha256)
    layer = unpack(built.layer_zip, root / "code" / "layer", built.layer_sha256)
    return Version(
        number=0,
        handler=HANDLER,
        code=(str(task), str(layer / "python")),
        env={MODEL: manifest.ref, MODEL_SHA256: manifest.sha256, STORE: store},
        memory_mb=DEFAULT_MEMORY_MB,
        timeout_s=DEFAULT_TIMEOUT_S,
        model=manifest.ref,
        model_sha256=manifest.sha256,
        artifact=_zip_artifact(built),
        description=description,
    )


def build_version(manifest: Manifest, root: Path, *, store: str, description: str = "") -> Version:
    """Build the artifact for this machine, unpack it, and describe the version to publish."""
    return zip_version(manifest, root, store=store, built=build_here(), description=description)


def pins(version: Version) -> Pins:
    """What a version pins besides its model (its artifact, image, handler, limits, other
    variables); the model's variables and where its store is are left out."""
    env = {k: v for k, v in version.env.items() if k not in (MODEL, MODEL_SHA256, STORE)}
    return pins_of(
        {
            "artifact": sorted(version.artifact.items()),
            "image": version.image or "",
            "handler": version.handler,
            "memory": version.memory_mb,
            "timeout": version.timeout_s,
            "environment": sorted(env.items()),
        }
    )


def image_pins(image: str) -> Pins:
    """The pins of the version `image_version` would make of podman's image `image`."""
    return _new_pins({"image": image}, image)


def zip_pins(built: BuildResult) -> Pins:
    """The pins of the version `zip_version` would make of `built`."""
    return _new_pins(_zip_artifact(built), None)


def _new_pins(artifact: dict[str, str], image: str | None) -> Pins:
    """A version's defaults (what `zip_version` and `image_version` set) with `artifact`."""
    version = Version(number=0, handler=HANDLER, code=(), env={}, artifact=artifact, image=image)
    return pins(replace(version, memory_mb=DEFAULT_MEMORY_MB, timeout_s=DEFAULT_TIMEOUT_S))


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
