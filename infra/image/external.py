"""`slipway build --image --base SOURCE`: another image's layers as the base.

SOURCE is an OCI archive on disk, or a registry reference (`python:3.13-slim`,
`public.ecr.aws/docker/library/python:3.13-slim`) copied with skopeo for the target
architecture. Its layers are taken as they are (gzip: the same bytes under OCI's media
type), its environment is kept under ours, and its Python 3.13 runs the function.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.build.exceptions import ImageBuildError
from infra.image import oci
from infra.image.base import PYTHON

GZIP_MEDIA = {
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
}
PYTHONS = (f"usr/local/bin/python{PYTHON}", f"usr/bin/python{PYTHON}")


@dataclass(frozen=True)
class ExternalBase:
    source: str
    layers: tuple[oci.Layer, ...]
    env: dict[str, str]
    python: str  # the interpreter's path in the image


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)
    if handle is None:
        raise ImageBuildError(f"{name} is missing from the base archive")
    return handle.read()


def _pick_manifest(tar: tarfile.TarFile, index: dict[str, Any], arch: str) -> dict[str, Any]:
    """The manifest for arch, through nested indexes (multi-platform images)."""
    want = oci.OCI_ARCH[arch][0]
    for entry in index.get("manifests", []):
        platform = entry.get("platform", {})
        if platform and platform.get("architecture") != want:
            continue
        body: dict[str, Any] = json.loads(_member(tar, f"blobs/sha256/{entry['digest'][7:]}"))
        if "manifests" in body:
            return _pick_manifest(tar, body, arch)
        return body
    raise ImageBuildError(f"the base image has no {want} manifest")


def fetch(source: str, arch: str, cache: Path, say: Callable[[str], None]) -> Path:
    """An OCI archive of source for arch (itself, when it is a file)."""
    path = Path(source)
    if path.is_file():
        return path
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise ImageBuildError(
            f"--base {source}: skopeo is needed to fetch it (make image-tools), "
            "or pass an OCI archive of it"
        )
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"base-{hashlib.sha256(f'{source} {arch}'.encode()).hexdigest()[:16]}.oci.tar"
    if out.is_file():
        return out
    say(f"base: skopeo copy docker://{source} ({arch})")
    tmp = out.with_suffix(".tmp")
    proc = subprocess.run(
        [skopeo, "copy", "--override-arch", oci.OCI_ARCH[arch][0], "--override-os", "linux",
         f"docker://{source}", f"oci-archive:{tmp}"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise ImageBuildError(f"--base {source}: skopeo could not fetch it: {tail[0][:300]}")
    tmp.replace(out)
    return out


def import_base(
    source: str, arch: str, blobs: Path, cache: Path, say: Callable[[str], None]
) -> ExternalBase:
    archive = fetch(source, arch, cache, say)
    blobs.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        manifest = _pick_manifest(tar, json.loads(_member(tar, "index.json")), arch)
        config = json.loads(_member(tar, f"blobs/sha256/{manifest['config']['digest'][7:]}"))
        if config.get("architecture") != oci.OCI_ARCH[arch][0]:
            raise ImageBuildError(
                f"--base {source} is {config.get('architecture')}, not {oci.OCI_ARCH[arch][0]}"
            )
        diff_ids = config["rootfs"]["diff_ids"]
        layers, python = [], None
        for i, (entry, diff_id) in enumerate(zip(manifest["layers"], diff_ids, strict=True)):
            if entry["mediaType"] not in GZIP_MEDIA:
                raise ImageBuildError(
                    f"--base {source}: layer {i} is {entry['mediaType']}; only gzip layers "
                    "are taken (Lambda reads gzip)"
                )
            data = _member(tar, f"blobs/sha256/{entry['digest'][7:]}")
            (blobs / entry["digest"][7:]).write_bytes(data)
            unpacked = 0
            with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(data)), mode="r|") as layer:
                for info in layer:
                    unpacked += info.size if info.isreg() else 0
                    name = info.name.removeprefix("./")
                    if name in PYTHONS and python is None:
                        python = "/" + name
            layers.append(oci.Layer(f"base-{i + 1}", entry["digest"], diff_id, len(data), unpacked))
    if python is None:
        raise ImageBuildError(
            f"--base {source} has no Python {PYTHON} at /{PYTHONS[0]} or /{PYTHONS[1]}: the "
            f"image's dependencies are locked for Python {PYTHON}"
        )
    env = dict(item.split("=", 1) for item in config.get("config", {}).get("Env") or [])
    return ExternalBase(source, tuple(layers), env, python)
