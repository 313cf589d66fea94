"""Reproducible OCI images written from files: layers, config, manifest, and the archive.

No container engine and no `RUN`: every layer is a tar made here from a directory tree (or
from another tar), entries sorted, owners root, times clamped to one timestamp, gzip without
a name or time, so the same files give the same digests on every machine and architecture.
The archive is an OCI image layout in a tar (`podman load`, `docker load`,
`skopeo copy oci-archive:…`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_store.files import sha256_file

LAYER_MEDIA = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA = "application/vnd.oci.image.index.v1+json"
# Lambda's name for an architecture -> the OCI platform's.
OCI_ARCH = {"x86_64": ("amd64", None), "arm64": ("arm64", "v8")}
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Layer:
    """One gzip-compressed layer blob under the layout's blobs/sha256/."""

    name: str  # base, dependencies, function, model: for the size report
    digest: str  # sha256:… of the compressed blob
    diff_id: str  # sha256:… of the uncompressed tar (the config's rootfs)
    size: int  # compressed bytes
    unpacked: int  # bytes of file content in it


@dataclass(frozen=True)
class ImageConfig:
    arch: str  # Lambda's name: x86_64 | arm64
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: Mapping[str, str]
    workdir: str
    user: str
    labels: Mapping[str, str] = field(default_factory=dict)


def _mode(info: tarfile.TarInfo) -> int:
    """Keep the file's bits, but readable by anyone (any uid runs the image)."""
    mode = info.mode & 0o7777
    if info.isdir() or mode & 0o111:
        return mode | 0o555
    return mode | 0o444


def normalize(info: tarfile.TarInfo, epoch: int) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = min(int(info.mtime), epoch)
    info.mode = _mode(info)
    info.pax_headers = {}
    return info


def tree_members(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """(name in the image, path) for every directory, file and symlink under root, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        base = prefix.rstrip("/") + ("/" + rel.as_posix() if rel.parts else "")
        yield base.lstrip("/"), Path(dirpath)
        for name in sorted(filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]):
            yield f"{base}/{name}".lstrip("/"), Path(dirpath) / name


class _Hashing(io.RawIOBase):
    """A write-only sink that hashes and counts what passes through it into `out`."""

    def __init__(self, out: Any) -> None:
        self.out, self.sha, self.size = out, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self.size += len(view)
        if self.out is not None:
            self.out.write(view)
        return len(view)


class LayerWriter:
    """Write one layer's tar, hashed as it goes, gzip-compressed into `blobs`."""

    def __init__(self, blobs: Path, name: str, epoch: int) -> None:
        self.blobs, self.name, self.epoch = blobs, name, epoch
        blobs.mkdir(parents=True, exist_ok=True)
        self._tmp = blobs / f".{name}.tmp"
        self._file = self._tmp.open("wb")
        self._gz_sink = _Hashing(self._file)
        # mtime=0 and no file name: the gzip header is the same on every run.
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._gz_sink, compresslevel=GZIP_LEVEL, mtime=0
        )
        self._tar_sink = _Hashing(self._gz)
        # Closed in close(), which returns the layer: not a with-block's shape.
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._tar_sink, mode="w|", format=tarfile.GNU_FORMAT
        )
        self._seen: set[str] = set()
        self.unpacked = 0

    def add_tree(self, root: Path, prefix: str) -> None:
        """Add root's contents at prefix (e.g. /opt/python), parents first."""
        self.add_parents(prefix)
        for name, path in tree_members(root, prefix):
            self.add_path(name, path)

    def add_parents(self, prefix: str) -> None:
        parts = [p for p in prefix.strip("/").split("/") if p]
        for i in range(1, len(parts)):
            name = "/".join(parts[:i])
            if name not in self._seen:
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                self.add_info(info)

    def add_path(self, name: str, path: Path) -> None:
        info = self._tar.gettarinfo(str(path), arcname=name)
        if info.isreg():
            with path.open("rb") as fh:
                self.add_info(info, fh)
        else:
            self.add_info(info)

    def add_info(self, info: tarfile.TarInfo, fileobj: Any = None) -> None:
        if info.name in self._seen or not info.name:
            return
        self._seen.add(info.name)
        if info.isdir():
            info.size = 0
        self.unpacked += info.size if info.isreg() else 0
        self._tar.addfile(normalize(info, self.epoch), fileobj)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        self.add_info(info, io.BytesIO(data))

    def close(self) -> Layer:
        self._tar.close()
        self._gz.close()
        self._file.close()
        digest = self._gz_sink.sha.hexdigest()
        blob = self.blobs / digest
        self._tmp.replace(blob)
        return Layer(
            self.name,
            f"sha256:{digest}",
            f"sha256:{self._tar_sink.sha.hexdigest()}",
            self._gz_sink.size,
            self.unpacked,
        )


def copy_tar(
    source: Path, writer: LayerWriter, keep: Callable[[tarfile.TarInfo], bool] | None = None
) -> None:
    """Copy another tar's members (e.g. mmdebstrap's root filesystem) into a layer."""
    with tarfile.open(source, "r:*") as src:
        for info in src:
            info.name = info.name.removeprefix("./").rstrip("/")
            if info.islnk():
                info.linkname = info.linkname.removeprefix("./")
            if not info.name or (keep is not None and not keep(info)):
                continue
            writer.add_info(info, src.extractfile(info) if info.isreg() else None)


def _blob(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_layout(
    layout: Path, layers: Sequence[Layer], config: ImageConfig, epoch: int, ref: str
) -> str:
    """Write config, manifest, index.json and oci-layout; return the manifest's digest."""
    blobs = layout / "blobs" / "sha256"
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    arch, variant = OCI_ARCH[config.arch]
    body: dict[str, Any] = {
        "created": created,
        "architecture": arch,
        "os": "linux",
        "config": {
            "Entrypoint": list(config.entrypoint),
            "Cmd": list(config.cmd),
            "Env": [f"{k}={v}" for k, v in config.env.items()],
            "WorkingDir": config.workdir,
            "User": config.user,
            "Labels": dict(config.labels),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": created, "comment": f"slipway: {layer.name}"} for layer in layers],
    }
    if variant:
        body["variant"] = variant
    config_digest, config_size = _blob(blobs, _json(body))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA,
        "config": {"mediaType": CONFIG_MEDIA, "digest": config_digest, "size": config_size},
        "layers": [
            {"mediaType": LAYER_MEDIA, "digest": layer.digest, "size": layer.size}
            for layer in layers
        ],
    }
    manifest_digest, manifest_size = _blob(blobs, _json(manifest))
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA,
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA,
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {
                    "architecture": arch,
                    "os": "linux",
                    **({"variant": variant} if variant else {}),
                },
                # podman/skopeo read the first; containerd's `docker load` reads the second.
                "annotations": {
                    "org.opencontainers.image.ref.name": ref,
                    "io.containerd.image.name": ref,
                },
            }
        ],
    }
    (layout / "index.json").write_bytes(_json(index))
    (layout / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    return manifest_digest


def write_archive(layout: Path, out: Path, epoch: int) -> str:
    """Tar the layout (sorted, normalized, uncompressed: the blobs are gzip already)."""
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in tree_members(layout, ""):
            if not name or path.name.startswith("."):
                continue
            info = tar.gettarinfo(str(path), arcname=name)
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(normalize(info, epoch), fh)
            else:
                tar.addfile(normalize(info, epoch))
    tmp.replace(out)
    return sha256_file(out)


def read_index(archive: Path) -> dict[str, Any]:
    """The archive's index.json (its one manifest names the image)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise ValueError(f"{archive} has no index.json: not an OCI archive")
        index: dict[str, Any] = json.loads(member.read())
    return index


def manifest_digest(archive: Path) -> str:
    digest: str = read_index(archive)["manifests"][0]["digest"]
    return digest


def reset(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def drop(names: Iterable[str]) -> Callable[[tarfile.TarInfo], bool]:
    """A `keep` filter for copy_tar that leaves out these paths and everything under them."""
    prefixes = tuple(n.strip("/") for n in names)

    def keep(info: tarfile.TarInfo) -> bool:
        return not any(info.name == p or info.name.startswith(p + "/") for p in prefixes)

    return keep


def is_device(info: tarfile.TarInfo) -> bool:
    return info.ischr() or info.isblk() or info.isfifo() or stat.S_ISSOCK(info.mode)
