"""Versioned model store backends: a local directory and S3, behind one interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from model_store.manifest import Manifest


class Store(Protocol):
    """What every backend offers. Versions are immutable and numbered 1, 2, 3… per name."""

    def register(
        self, data: bytes, draft: Manifest, assets: Mapping[str, bytes] | None = None
    ) -> tuple[Manifest, bool]:
        """Store `data` (and `assets`, the files `draft.assets` lists by sha256, stored beside
        the model) as the next version of `draft.name`.

        Returns the manifest and True, or the existing version's manifest and False when
        identical bytes (model and assets) were registered before under that name.
        """
        ...

    def assets(self, manifest: Manifest) -> dict[str, bytes]:
        """The version's assets by name, each verified against the manifest's sha256."""
        ...

    def get(self, name: str, version: int | None = None) -> tuple[Manifest, bytes]:
        """Return a version (the newest when None) with its sha256-verified bytes."""
        ...

    def manifest(self, name: str, version: int | None = None) -> Manifest: ...

    def versions(self, name: str) -> list[Manifest]: ...

    def names(self) -> list[str]: ...


STORE_ENV = "SLIPWAY_STORE"


def open_store(spec: str | None = None, *, s3_client: object = None) -> Store:
    """`s3://bucket[/prefix]` or a directory; None means $SLIPWAY_STORE, else model_store/models."""
    import os

    from model_store.backends.s3 import S3Store, is_s3_uri

    spec = spec or os.environ.get(STORE_ENV) or None
    if is_s3_uri(spec):
        return S3Store.from_uri(spec, client=s3_client)
    from model_store.backends.local import LocalStore

    return LocalStore(spec)
