"""Find the model a function should serve, from a reference it was configured with."""

from __future__ import annotations

from typing import Any

from model_store import DEFAULT_MODEL_NAME
from model_store.backends import Store
from model_store.backends.local import LocalStore
from model_store.exceptions import ChecksumMismatch, ModelStoreError
from model_store.manifest import Manifest, parse_ref


def fetch(
    ref: str | None,
    *,
    sha256: str | None = None,
    store_root: str | None = None,
    s3_client: Any = None,
) -> tuple[Manifest, bytes]:
    """Return (manifest, verified bytes) for `name[@version]` or `s3://bucket/.../name/version`.

    An S3 reference must come with the expected sha256, so a function can never serve bytes
    its deployer did not pin. With no reference, the newest local `digits` is served.
    """
    manifest, data, _ = fetch_version(
        ref, sha256=sha256, store_root=store_root, s3_client=s3_client, assets=False
    )
    return manifest, data


def fetch_version(
    ref: str | None,
    *,
    sha256: str | None = None,
    store_root: str | None = None,
    s3_client: Any = None,
    assets: bool = True,
) -> tuple[Manifest, bytes, dict[str, bytes]]:
    """`fetch`, with the version's assets (a tokenizer.json) by name, each verified against the
    manifest's sha256 (the manifest itself is pinned by the model's sha256)."""
    from model_store.backends.s3 import S3Store, is_s3_uri

    store: Store
    if is_s3_uri(ref):
        if not sha256:
            raise ModelStoreError(
                f"model {ref} is on S3 but no sha256 was given; set SLIPWAY_MODEL_SHA256 to the "
                "manifest's sha256 (`slipway models` shows it)"
            )
        s3 = S3Store.holding(ref, client=s3_client)
        manifest, data = s3.get_uri(ref)
        store = s3
    else:
        name, version = parse_ref(ref or DEFAULT_MODEL_NAME)
        local = LocalStore(store_root)
        manifest, data = local.get(name, version)
        store = local
    if sha256 and sha256.lower() != manifest.sha256:
        raise ChecksumMismatch(
            f"model {manifest.ref} has sha256 {manifest.sha256}, but {sha256} was pinned; "
            "the store holds different bytes than the deployer expected"
        )
    files = store.assets(manifest) if assets and manifest.assets else {}
    return manifest, data, files
