"""A model store in a local directory: <root>/<name>/<version>/{model.onnx,manifest.json} and
the version's assets (a tokenizer.json) beside them."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from model_store import assets as version_assets
from model_store.exceptions import ManifestError, ModelNotFound
from model_store.files import exclusive_lock
from model_store.loader import verify_bytes
from model_store.manifest import MANIFEST_FILE, MODEL_FILE, Manifest, parse_ref

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "models"


class LocalStore:
    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else DEFAULT_ROOT

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- reading --------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._numbers(p.name))

    def versions(self, name: str) -> list[Manifest]:
        return [self._read_manifest(name, n) for n in self._numbers(name)]

    def manifest(self, name: str, version: int | None = None) -> Manifest:
        parse_ref(name)  # refuses names that could escape the root
        numbers = self._numbers(name)
        if not numbers:
            raise ModelNotFound(
                f"model {name!r} is not in the store at {self.root}; "
                "register it first (`slipway register` or `slipway example`)"
            )
        if version is None:
            version = numbers[-1]
        elif version not in numbers:
            raise ModelNotFound(
                f"model {name}@{version} does not exist; versions in {self.root}: {numbers}"
            )
        return self._read_manifest(name, version)

    def get(self, name: str, version: int | None = None) -> tuple[Manifest, bytes]:
        manifest = self.manifest(name, version)
        path = self.model_path(manifest)
        data = path.read_bytes()
        verify_bytes(data, manifest.sha256, f"{path}")
        return manifest, data

    def assets(self, manifest: Manifest) -> dict[str, bytes]:
        version_assets.check_names(manifest.assets)
        folder = self.model_path(manifest).parent
        out = {}
        for name, sha256 in (manifest.assets or {}).items():
            path = folder / name
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise ModelNotFound(
                    f"{path} is missing: the manifest of {manifest.ref} lists it; the store was "
                    "edited by hand. Register the model again."
                ) from None
            verify_bytes(data, sha256, f"{path}")
            out[name] = data
        return out

    def model_path(self, manifest: Manifest) -> Path:
        return self.root / manifest.name / str(manifest.version) / MODEL_FILE

    def _numbers(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(
            int(p.name)
            for p in folder.iterdir()
            if p.name.isdigit() and (p / MANIFEST_FILE).exists()
        )

    def _read_manifest(self, name: str, version: int) -> Manifest:
        path = self.root / name / str(version) / MANIFEST_FILE
        try:
            manifest = Manifest.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise ManifestError(f"cannot read {path}: {exc}") from exc
        if (manifest.name, manifest.version) != (name, version):
            raise ManifestError(f"{path} says {manifest.ref}; the store was edited by hand")
        return manifest

    # -- writing --------------------------------------------------------------
    def register(
        self, data: bytes, draft: Manifest, assets: Mapping[str, bytes] | None = None
    ) -> tuple[Manifest, bool]:
        parse_ref(draft.name)
        verify_bytes(data, draft.sha256, f"model {draft.name} to register")
        files = version_assets.checked(draft, assets)
        folder = self.root / draft.name
        folder.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(folder / ".lock"):  # one writer picks each version number
            for existing in self.versions(draft.name):
                if version_assets.same_version(existing, draft):
                    return existing, False
            numbers = self._numbers(draft.name)
            version = (numbers[-1] if numbers else 0) + 1
            manifest = draft.with_version(version, datetime.now(UTC).isoformat(timespec="seconds"))
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
            try:
                (tmp / MODEL_FILE).write_bytes(data)
                for asset, content in files.items():
                    (tmp / asset).write_bytes(content)
                (tmp / MANIFEST_FILE).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
                for f in tmp.iterdir():
                    f.chmod(0o444)  # immutable by convention and by mode
                tmp.chmod(0o755)
                # rename of a directory is atomic: readers see all of a version or none of it.
                os.rename(tmp, folder / str(version))
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return manifest, True
