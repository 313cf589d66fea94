"""Locked wheels bundled into a function zip (the Flask function's flask, werkzeug, ...).

They are installed like the layer (hash-checked manylinux wheels for the target, stripped) into
build/<target>/<name>-deps/, which is kept as a cache: reused while the lock, the target and the
builder are unchanged and the tree is exactly the one that build produced.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from infra.build import layer, lockfile, zipper
from infra.build.exceptions import LockError
from infra.build.platforms import BuildTarget
from model_store.files import sha256_file


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative name and content under root (sorted)."""
    digest = hashlib.sha256()
    for arc, path in zipper.iter_tree(root):
        digest.update(arc.encode() + b"\0")
        digest.update(bytes.fromhex(sha256_file(path)))
    return digest.hexdigest()


def locked_names(lock_text: str) -> set[str]:
    """The distribution names a lock file installs (`name==version` lines that apply)."""
    return {pin.name for pin in lockfile.installed(lock_text)}


def check_disjoint(vendor_lock: Path, vendor_text: str, layer_lock: Path, layer_text: str) -> None:
    """Raise LockError when both locks pin a package: the zip's copy would shadow the layer's."""
    both = sorted(locked_names(vendor_text) & locked_names(layer_text))
    if both:
        raise LockError(
            f"{vendor_lock} and {layer_lock} both pin {', '.join(both)}; "
            f"remove them from {vendor_lock.with_suffix('.in')} (the layer provides them)"
        )


def check_agree(extra_lock: Path, extra_text: str, layer_lock: Path, layer_text: str) -> None:
    """Raise LockError when both locks pin a package at different versions.

    For trees installed side by side from both locks (the image's /opt/python): a shared
    dependency is installed twice, identically, only if the pins agree.
    """
    ours = {pin.name: pin.version for pin in lockfile.installed(layer_text)}
    differ = sorted(
        f"{pin.name} ({pin.version} against {ours[pin.name]})"
        for pin in lockfile.installed(extra_text)
        if pin.name in ours and ours[pin.name] != pin.version
    )
    if differ:
        raise LockError(
            f"{extra_lock} and {layer_lock} pin different versions of {', '.join(differ)}; "
            f"run `slipway lock` for {extra_lock.with_suffix('.in')} again"
        )


def vendored_site(
    lock_path: Path,
    lock_text: str,
    target: BuildTarget,
    site: Path,
    progress: Callable[[str], None],
    use_cache: bool = True,
) -> tuple[Path, bool]:
    """Return (site, reused): the locked wheels installed for target under site."""
    key_file = site.with_name(site.name + ".key.json")
    # The layer's key (lock, target, pip, layer builder) plus this module, which also shapes it.
    key = layer.cache_key(lock_text + Path(__file__).read_text(encoding="utf-8"), target)
    if use_cache and site.is_dir():
        saved = layer.saved_key(key_file)
        if saved.get("key") == key and saved.get("tree") == tree_digest(site):
            progress(f"{site.name}: unchanged lock, target and builder; reusing {site}")
            return site, True
    shutil.rmtree(site, ignore_errors=True)
    key_file.unlink(missing_ok=True)
    layer.install_stripped(lock_path, target, site, site.name, progress)
    key_file.write_text(json.dumps({"key": key, "tree": tree_digest(site)}, indent=2) + "\n")
    return site, False
