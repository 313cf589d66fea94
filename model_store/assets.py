"""A version's assets: files stored beside model.onnx (a tokenizer.json), listed in the
manifest by name and sha256 and verified like the model's bytes. One rule for both backends."""

from __future__ import annotations

from collections.abc import Mapping

from model_store.exceptions import ManifestError
from model_store.loader import verify_bytes
from model_store.manifest import MANIFEST_FILE, MODEL_FILE, Manifest, sha256_hex

_RESERVED = frozenset({MODEL_FILE, MANIFEST_FILE})


def check_names(names: Mapping[str, str] | None) -> None:
    """Refuse asset names that could leave the version's folder or replace its own files."""
    for name in names or {}:
        if (
            not name
            or name in _RESERVED
            or name.startswith(".")
            or "/" in name
            or "\\" in name
            or len(name) > 100
        ):
            raise ManifestError(
                f"asset name {name!r}: a plain file name, not {sorted(_RESERVED)}, no folders"
            )


def checked(draft: Manifest, assets: Mapping[str, bytes] | None) -> dict[str, bytes]:
    """The assets to register with `draft`: exactly the files its manifest lists, by sha256."""
    listed = dict(draft.assets or {})
    given = dict(assets or {})
    check_names(listed)
    if set(listed) != set(given):
        raise ManifestError(
            f"model {draft.name}: the manifest lists assets {sorted(listed)} but "
            f"{sorted(given)} were given"
        )
    for name, data in given.items():
        verify_bytes(data, listed[name], f"asset {name} of model {draft.name} to register")
    return given


def same_version(existing: Manifest, draft: Manifest) -> bool:
    """Whether `draft` registers what `existing` holds: the same model and the same assets."""
    return existing.sha256 == draft.sha256 and dict(existing.assets or {}) == dict(
        draft.assets or {}
    )


def listing(assets: Mapping[str, bytes]) -> dict[str, str] | None:
    """The manifest's `assets` field for these files (None when there are none)."""
    return {name: sha256_hex(data) for name, data in sorted(assets.items())} or None
