"""A tiny deterministic OCI archive, and a real OCI registry on loopback (Debian's
docker-registry, the CNCF distribution registry), started per module and always stopped."""

from __future__ import annotations

import crypt
import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.servers import free_port, running

REGISTRY_BIN = "docker-registry"
USER, PASSWORD = "slipway", "s3cret-for-tests"


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    """A tar of `files` with fixed owners and times, in name order: same input, same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def _descriptor(media_type: str, blob: bytes) -> dict[str, object]:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
        "size": len(blob),
    }


def make_oci_archive(path: Path, content: bytes = b"hello from slipway\n") -> str:
    """Write an OCI image archive (one layer holding /hello.txt) to `path`; return the digest
    of its manifest, which a registry keeps when the archive is pushed as it is."""
    layer = _tar_bytes({"hello.txt": content})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": _descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [_descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        },
        sort_keys=True,
    ).encode()
    top = _descriptor("application/vnd.oci.image.manifest.v1+json", manifest)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{**top, "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    }
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
    }
    for blob in (layer, config, manifest):
        files[f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}"] = blob
    path.write_bytes(_tar_bytes(files))
    return str(top["digest"])


@pytest.fixture
def oci_archive(tmp_path: Path) -> tuple[Path, str]:
    """(archive path, its manifest digest)."""
    path = tmp_path / "image.oci.tar"
    return path, make_oci_archive(path)


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    root: Path  # its storage
    log: Path


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An open registry on 127.0.0.1 (plain HTTP, no auth)."""
    yield from _registry(tmp_path_factory.mktemp("registry"), auth=False)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry that wants basic auth (htpasswd: USER / PASSWORD), as ECR does."""
    yield from _registry(tmp_path_factory.mktemp("auth-registry"), auth=True)


def _registry(tmp: Path, *, auth: bool) -> Iterator[Registry]:
    if shutil.which(REGISTRY_BIN) is None:
        pytest.fail("docker-registry is not installed: run `make image-tools`")
    port = free_port()
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "storage")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    if auth:
        # bcrypt, the only hash the registry's htpasswd accepts; cost 4 keeps checks quick.
        hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        (tmp / "htpasswd").write_text(f"{USER}:{hashed}\n")
        config["auth"] = {"htpasswd": {"realm": "slipway-test", "path": str(tmp / "htpasswd")}}
    # JSON is YAML, so no YAML writer is needed.
    (tmp / "config.yml").write_text(json.dumps(config))
    log = tmp / "registry.log"
    cmd = [REGISTRY_BIN, "serve", str(tmp / "config.yml")]
    with running(cmd, log=log, port=port, timeout=30):
        yield Registry(f"127.0.0.1:{port}", tmp / "storage", log)
