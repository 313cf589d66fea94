"""A version's assets (a tokenizer.json) beside model.onnx: registered, listed by sha256 in the
manifest, verified on every read, in the local and the S3 store and through resolve's fetch."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from model_store.assets import listing
from model_store.backends.local import LocalStore
from model_store.backends.s3 import S3Store
from model_store.exceptions import ChecksumMismatch, ManifestError, ModelNotFound
from model_store.resolve import fetch, fetch_version

BUCKET = "slipway-models"
TOKENIZER = b'{"version": "1.0", "model": {"type": "WordPiece"}}'


@pytest.fixture
def drafted(example_store: Path) -> tuple[bytes, Any]:
    manifest, data = LocalStore(example_store).get("digits", 1)
    draft = dataclasses.replace(manifest, version=0, assets=listing({"tokenizer.json": TOKENIZER}))
    return data, draft


def test_local_store_keeps_assets_beside_the_model(tmp_path: Path, drafted) -> None:
    data, draft = drafted
    store = LocalStore(tmp_path)
    m1, created = store.register(data, draft, {"tokenizer.json": TOKENIZER})
    assert created and m1.assets == draft.assets
    assert (store.model_path(m1).parent / "tokenizer.json").read_bytes() == TOKENIZER
    assert store.assets(m1) == {"tokenizer.json": TOKENIZER}
    # The same model with another tokenizer is another version; the same pair is not.
    other = dataclasses.replace(draft, assets=listing({"tokenizer.json": b"{}"}))
    m2, created2 = store.register(data, other, {"tokenizer.json": b"{}"})
    assert created2 and m2.version == 2
    assert store.register(data, draft, {"tokenizer.json": TOKENIZER}) == (m1, False)
    manifest, got, assets = fetch_version("digits@1", store_root=str(tmp_path))
    assert (manifest, got, assets) == (m1, data, {"tokenizer.json": TOKENIZER})
    assert fetch("digits@1", store_root=str(tmp_path)) == (m1, data)


def test_local_store_refuses_changed_missing_or_unlisted_assets(tmp_path: Path, drafted) -> None:
    data, draft = drafted
    store = LocalStore(tmp_path)
    with pytest.raises(ManifestError, match=r"lists assets \['tokenizer.json'\] but \[\]"):
        store.register(data, draft)
    with pytest.raises(ChecksumMismatch, match="asset tokenizer.json"):
        store.register(data, draft, {"tokenizer.json": b"changed"})
    bad = dataclasses.replace(draft, assets={"../escape": draft.assets["tokenizer.json"]})
    with pytest.raises(ManifestError, match="a plain file name"):
        store.register(data, bad, {"../escape": TOKENIZER})
    m1, _ = store.register(data, draft, {"tokenizer.json": TOKENIZER})
    path = store.model_path(m1).parent / "tokenizer.json"
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatch, match="tokenizer.json"):
        fetch_version("digits@1", store_root=str(tmp_path))
    path.unlink()
    with pytest.raises(ModelNotFound, match="is missing"):
        store.assets(m1)


def test_s3_store_keeps_assets_by_sha256(drafted) -> None:
    data, draft = drafted
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        store = S3Store(BUCKET, "models", client=client)
        m1, created = store.register(data, draft, {"tokenizer.json": TOKENIZER})
        assert created
        key = store.asset_key(draft.assets["tokenizer.json"], "digits", "tokenizer.json")
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == TOKENIZER
        assert store.register(data, draft, {"tokenizer.json": TOKENIZER}) == (m1, False)
        uri = store.version_uri(m1)
        manifest, got, assets = fetch_version(uri, sha256=m1.sha256, s3_client=client)
        assert (manifest, got, assets) == (m1, data, {"tokenizer.json": TOKENIZER})
        client.put_object(Bucket=BUCKET, Key=key, Body=b"tampered")
        with pytest.raises(ChecksumMismatch, match="tokenizer.json"):
            store.assets(m1)
