"""`slipway build --image`: the prediction function as an OCI image, assembled from files.

Layers, in the order they change least to most often:
- base: the root filesystem with Python 3.13 (infra.image.base), its stdlib compiled;
- dependencies: the runtime layer's lock and the image's own (layers/image-requirements.txt),
  installed for the image's Python and architecture (hash-checked binary wheels), at /opt/python;
- function: the import-traced function files (the zip's sources) and the entrypoint, at /var/task;
- model (with --model): one version of the local store, at /opt/models.

Nothing runs inside the target architecture: Python sources are byte-compiled by the host
architecture's Python 3.13 (a base of its own, run with chroot) with
`--invalidation-mode unchecked-hash` (bytecode does not depend on the CPU), so the image reads
its .pyc files on a read-only root filesystem and never needs to write them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra import progress as bars
from infra.build.exceptions import ImageBuildError
from infra.build.function import HANDLER_MODULE, function_entries
from infra.build.lockfile import check_covers
from infra.build.platforms import BuildTarget
from infra.build.vendored import check_agree, vendored_site
from infra.image import base as bases
from infra.image import oci
from infra.image.external import import_base
from model_store.backends.local import LocalStore
from model_store.files import exclusive_lock
from model_store.manifest import parse_ref

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT_MODULE = "functions.predict.entrypoint"
PYTHON_BIN = f"/usr/bin/python{bases.PYTHON}"
TASK_ROOT = "/var/task"
DEPS_ROOT = "/opt/python"
MODELS_ROOT = "/opt/models"
USER = "65534:65534"  # nobody: Lambda and Cloud Run run any uid; nothing here needs root
IMAGE_LIMIT = 10 * 1024**3  # Lambda's container image limit (uncompressed)
DEFAULT_EPOCH = 0  # SOURCE_DATE_EPOCH when none is given
IMAGE_LOCK = "layers/image-requirements.txt"
RUNTIME_LOCK = "layers/requirements.txt"
# Not part of a runtime image: apt's lists and caches, logs, device files (the runtime mounts /dev).
BASE_DROPS: tuple[str, ...] = (
    *("var/lib/apt/lists", "var/cache", "var/log"),
    *("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info"),
)
MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib"}
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONPATH": f"{TASK_ROOT}:{DEPS_ROOT}",
    "LAMBDA_TASK_ROOT": TASK_ROOT,
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "HOME": "/tmp",  # the only writable place (onnxruntime keeps a telemetry id there)
}


@dataclass(frozen=True)
class ImageResult:
    archive: Path  # build/<python>-<arch>/image.oci.tar
    digest: str  # the manifest's: what a registry and Lambda's ImageUri name
    ref: str
    report: dict[str, Any]


def image_ref(target: BuildTarget, model: str | None) -> str:
    tag = f"{target.name}" + (f"-{model.replace('@', '-')}" if model else "")
    return f"localhost/slipway-predict:{tag}"


def build_image(
    arch: str,
    out_dir: Path = Path("build"),
    *,
    model: str | None = None,
    store_root: str | None = None,
    epoch: int | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
    root: Path = PROJECT_ROOT,
    base_image: str | None = None,
    cache_dir: Path | None = None,
) -> ImageResult:
    """Build the image for arch; `base_image` (an OCI archive or a registry reference)
    replaces the built-in Debian base (infra.image.external)."""
    say = progress or (lambda _msg: None)
    epoch = DEFAULT_EPOCH if epoch is None else epoch
    target = BuildTarget(arch, bases.PYTHON)
    target_dir = out_dir / target.name
    target_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target_dir / ".image.lock"):
        cache = cache_dir or out_dir / "image-base"
        host = bases.host_arch()
        layout = oci.reset(target_dir / "image-layout")
        blobs = layout / "blobs" / "sha256"
        env = dict(ENV)
        python = PYTHON_BIN
        external = None
        if base_image is not None:  # first: a base that cannot serve is refused at once
            external = import_base(base_image, arch, blobs, cache, say)
        base = None
        if base_image is None or arch == host:
            base = bases.build_base(arch, cache, epoch, say, use_cache)
        # Python files are compiled by Debian's Python 3.13 of this machine's architecture.
        compiler_base = (
            base if base and arch == host else bases.build_base(host, cache, epoch, say, True)
        )
        compiler = bases.extract(compiler_base, cache / f"root-{host}")

        stage = oci.reset(compiler / "tmp" / "slipway-stage")
        # One step per layer this build writes (base, dependencies, function, model).
        count = (external is None) + 2 + bool(model)
        with bars.task(f"image {target.name}: layers", total=count) as written:
            if external is not None:
                layers = list(external.layers)
                python = external.python
                env = {**external.env, **ENV, "PATH": external.env.get("PATH", ENV["PATH"])}
                base_info: dict[str, Any] = {"source": base_image, "layers": len(layers)}
            else:
                assert base is not None
                layers = [_base_layer(base, arch, stage, compiler, blobs, epoch)]
                base_info = {"suite": bases.SUITE, "variant": base.variant, "sha256": base.sha256}
                written.advance(note="base")
            layers.append(
                _deps_layer(root, target, target_dir, stage, compiler, blobs, epoch, say, use_cache)
            )
            written.advance(note="dependencies")
            layers.append(_function_layer(root, stage, compiler, blobs, epoch))
            written.advance(note="function")
            if model:
                layers.append(_model_layer(model, store_root, stage, blobs, epoch))
                env.update({"SLIPWAY_STORE": MODELS_ROOT, "SLIPWAY_MODEL": model})
                written.advance(note="model")
        shutil.rmtree(stage)
        ref = image_ref(target, model)
        config = oci.ImageConfig(
            arch=arch,
            entrypoint=(python, "-m", ENTRYPOINT_MODULE),
            cmd=(f"{HANDLER_MODULE}.handler",),
            env=env,
            workdir=TASK_ROOT,
            user=USER,
            labels={"org.opencontainers.image.title": "slipway-predict"},
        )
        digest = oci.write_layout(layout, layers, config, epoch, ref)
        archive = target_dir / "image.oci.tar"
        oci.write_archive(layout, archive, epoch)
        shutil.rmtree(layout)
        report = size_report(target, digest, ref, layers, base_info, epoch)
        (target_dir / "image-report.json").write_text(json.dumps(report, indent=2) + "\n")
        return ImageResult(archive, digest, ref, report)


def _compile(compiler: Path, stage_dir: Path, image_dir: str) -> None:
    """Byte-compile stage_dir (which holds what goes to image_dir) with the compiler's Python."""
    inside = "/" + stage_dir.relative_to(compiler).as_posix()
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    cmd = [
        chroot, str(compiler), PYTHON_BIN, "-m", "compileall", "-q", "-f", "-j", "0",
        "--invalidation-mode", "unchecked-hash", "-s", inside, "-p", image_dir, inside,
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin"}
    )
    # compileall exits 1 when a file does not compile (e.g. a package's py2-only test data):
    # that file is shipped as source only, like pip leaves it. Anything else is a failure.
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        raise ImageBuildError(f"byte-compiling {image_dir} failed: {proc.stderr.strip()[-600:]}")


def _base_layer(
    base: bases.Base, arch: str, stage: Path, compiler: Path, blobs: Path, epoch: int
) -> oci.Layer:
    import tarfile

    stdlib = f"usr/lib/python{bases.PYTHON}"
    sources = stage / "base"
    with tarfile.open(base.tar) as tar:
        members = [
            m
            for m in tar
            if m.isreg()
            and m.name.removeprefix("./").startswith(stdlib + "/")
            and m.name.endswith(".py")
        ]
        for member in members:
            member.name = member.name.removeprefix("./")
        tar.extractall(sources, members=members, filter="data")
    _compile(compiler, sources / stdlib, "/" + stdlib)

    writer = oci.LayerWriter(blobs, "base", epoch)
    drops = oci.drop(BASE_DROPS)

    def keep(info: tarfile.TarInfo) -> bool:
        if "/__pycache__" in f"/{info.name}":  # the base's own, timestamp-checked: replaced
            return False
        if info.name.startswith("dev/") or oci.is_device(info):
            return False
        return drops(info)

    oci.copy_tar(base.tar, writer, keep)
    for name, target in MERGED_USR.items():  # the extract variant leaves these to a script
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        writer.add_info(info)
    for name in ("tmp", "dev", "proc", "sys"):
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
        writer.add_info(info)
    if base.variant == "extract":  # no base-passwd scripts ran: name the image's user
        writer.add_bytes("etc/passwd", b"root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/\n")
        writer.add_bytes("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    for name, path in oci.tree_members(sources / stdlib, "/" + stdlib):
        if "__pycache__" in name:
            writer.add_path(name, path)
    return writer.close()


def _deps_layer(
    root: Path,
    target: BuildTarget,
    target_dir: Path,
    stage: Path,
    compiler: Path,
    blobs: Path,
    epoch: int,
    say: Callable[[str], None],
    use_cache: bool,
) -> oci.Layer:
    runtime_lock, image_lock = root / RUNTIME_LOCK, root / IMAGE_LOCK
    runtime_text, image_text = check_covers(runtime_lock, target), check_covers(image_lock, target)
    check_agree(image_lock, image_text, runtime_lock, runtime_text)
    site = stage / "deps" / DEPS_ROOT.strip("/")
    site.mkdir(parents=True)
    for lock, text, name in (
        (runtime_lock, runtime_text, "image-runtime-deps"),
        (image_lock, image_text, "image-extra-deps"),
    ):
        installed, _ = vendored_site(lock, text, target, target_dir / name, say, use_cache)
        shutil.copytree(installed, site, dirs_exist_ok=True, symlinks=True)
    _compile(compiler, site, DEPS_ROOT)
    writer = oci.LayerWriter(blobs, "dependencies", epoch)
    writer.add_tree(site, DEPS_ROOT)
    return writer.close()


def function_files(root: Path) -> list[tuple[str, Path]]:
    """The zip's files (traced from the handler) and the entrypoint's (HTTP mode's too)."""
    entries = dict(function_entries(root, HANDLER_MODULE))
    entries.update(function_entries(root, ENTRYPOINT_MODULE))
    return sorted(entries.items())


def _function_layer(root: Path, stage: Path, compiler: Path, blobs: Path, epoch: int) -> oci.Layer:
    task = stage / "function" / TASK_ROOT.strip("/")
    for name, path in function_files(root):
        dest = task / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    _compile(compiler, task, TASK_ROOT)
    writer = oci.LayerWriter(blobs, "function", epoch)
    writer.add_tree(task, TASK_ROOT)
    return writer.close()


def _model_layer(
    model: str, store_root: str | None, stage: Path, blobs: Path, epoch: int
) -> oci.Layer:
    name, version = parse_ref(model)
    store = LocalStore(store_root)
    manifest = store.manifest(name, version)
    source = store.model_path(manifest).parent
    dest = stage / "model" / manifest.name / str(manifest.version)
    shutil.copytree(source, dest)
    writer = oci.LayerWriter(blobs, "model", epoch)
    writer.add_tree(stage / "model", MODELS_ROOT)
    return writer.close()


def size_report(
    target: BuildTarget,
    digest: str,
    ref: str,
    layers: list[oci.Layer],
    base: dict[str, Any],
    epoch: int,
) -> dict[str, Any]:
    unpacked = sum(layer.unpacked for layer in layers)
    return {
        "target": asdict(target),
        "digest": digest,
        "epoch": epoch,
        "ref": ref,
        "base": base,
        "layers": [asdict(layer) for layer in layers],
        "compressed_bytes": sum(layer.size for layer in layers),
        "unpacked_bytes": unpacked,
        "limit_bytes": IMAGE_LIMIT,
        "limit_used": round(unpacked / IMAGE_LIMIT, 4),
    }


def format_report(report: dict[str, Any]) -> str:
    mb = 1024 * 1024
    lines = [f"image {report['ref']}", f"  digest {report['digest']}"]
    lines.append(f"  {'layer':<14}{'compressed':>12}{'unpacked':>12}")
    for layer in report["layers"]:
        lines.append(
            f"  {layer['name']:<14}{layer['size'] / mb:>10.1f}MB{layer['unpacked'] / mb:>10.1f}MB"
        )
    lines.append(
        f"  {'total':<14}{report['compressed_bytes'] / mb:>10.1f}MB"
        f"{report['unpacked_bytes'] / mb:>10.1f}MB"
        f"  ({report['limit_used'] * 100:.2f}% of Lambda's 10 GB image limit)"
    )
    return "\n".join(lines)


def epoch_from(env: dict[str, str] | os._Environ[str], given: int | None) -> int | None:
    """--timestamp beats SOURCE_DATE_EPOCH."""
    if given is not None:
        return given
    raw = env.get("SOURCE_DATE_EPOCH", "")
    return int(raw) if raw.isdigit() else None
