"""The default base: a minimal Debian trixie with Python 3.13, made by mmdebstrap, cached.

Public registries are out of reach here, so the base comes from Debian's archive: the
`minbase` variant with python3-minimal and libpython3.13-stdlib, without docs, man pages and
locales, apt's lists removed, every time set to SOURCE_DATE_EPOCH. A foreign architecture
(arm64 on an x86_64 machine) that cannot run its maintainer scripts without emulation uses
the `extract` variant instead: the same packages unpacked, no scripts run, nothing emulated.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.build.exceptions import ImageBuildError
from model_store.files import sha256_file

SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
PYTHON = "3.13"  # trixie's python3
# libstdc++6: numpy and onnxruntime link it (minbase has it through apt; extract must ask).
PACKAGES = ("python3-minimal", f"libpython{PYTHON}-stdlib", "libstdc++6")
EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
QEMU = {"x86_64": "x86_64", "arm64": "aarch64"}
TIMEOUT_S = 900


@dataclass(frozen=True)
class Base:
    tar: Path  # the root filesystem as mmdebstrap wrote it
    sha256: str
    variant: str
    reused: bool


def host_arch() -> str:
    machine = platform.machine().lower()
    return "arm64" if machine in ("aarch64", "arm64") else machine


def emulated(arch: str) -> bool:
    """Whether this machine runs arch's binaries through a registered qemu (binfmt_misc)."""
    return arch != host_arch() and Path(f"/proc/sys/fs/binfmt_misc/qemu-{QEMU[arch]}").exists()


def command(arch: str, out: Path, epoch: int) -> tuple[list[str], str]:
    # A foreign architecture is never emulated to build, even where qemu is registered: the
    # same base on every machine, and no maintainer script under emulation.
    variant = "minbase" if arch == host_arch() else "extract"
    cmd = [
        "mmdebstrap",
        f"--variant={variant}",
        f"--architectures={DEBIAN_ARCH[arch]}",
        f"--include={','.join(PACKAGES)}",
        *(f"--dpkgopt=path-exclude={pattern}" for pattern in EXCLUDES),
        '--aptopt=Acquire::Languages "none"',
        SUITE,
        str(out),
        MIRROR,
    ]
    return cmd, variant


def build_base(
    arch: str, cache: Path, epoch: int, say: Callable[[str], None], use_cache: bool = True
) -> Base:
    """The base root filesystem tar for arch, from the cache when the same command made it."""
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError(
            "mmdebstrap is not installed: run `make image-tools` (apt-get install mmdebstrap), "
            "or pass --base with an OCI archive of a Python 3.13 image"
        )
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"{SUITE}-{arch}.tar"
    key_file = out.with_suffix(".key.json")
    cmd, variant = command(arch, out, epoch)
    key = hashlib.sha256(json.dumps([cmd, epoch]).encode()).hexdigest()
    if use_cache and out.is_file() and key_file.is_file():
        saved = json.loads(key_file.read_text())
        if saved.get("key") == key:
            say(f"base: reusing {out} (mmdebstrap {variant}, {SUITE}, {arch})")
            return Base(out, saved["sha256"], variant, True)
    say(f"base: mmdebstrap --variant={variant} {SUITE} for {arch} (about 20-60 s)")
    tmp = out.with_suffix(".tmp.tar")
    proc = subprocess.run(
        cmd[:-2] + [str(tmp), MIRROR],
        capture_output=True,
        text=True,
        env={"SOURCE_DATE_EPOCH": str(epoch), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        timeout=TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise ImageBuildError(f"mmdebstrap failed for {arch} (exit {proc.returncode}):\n{tail}")
    tmp.replace(out)
    sha = sha256_file(out)
    key_file.write_text(json.dumps({"key": key, "sha256": sha, "variant": variant}) + "\n")
    return Base(out, sha, variant, False)


def extract(base: Base, root: Path) -> Path:
    """Unpack a base (as root: owners, modes and device files kept) for running its Python."""
    stamp = root / ".slipway-base"
    if stamp.is_file() and stamp.read_text() == base.sha256:
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with tarfile.open(base.tar) as tar:
        tar.extractall(root, filter="fully_trusted")
    stamp.write_text(base.sha256)
    return root
