from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from model_store.backends import open_store
from model_store.backends.local import LocalStore
from model_store.backends.s3 import S3Store, S3Uri, S3VersionUri, is_s3_uri
from model_store.exceptions import ChecksumMismatch, ModelNotFound, ModelStoreError
from model_store.resolve import fetch

BUCKET = "slipway-models"


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def model(example_store: Path) -> tuple[bytes, Any]:
    manifest, data = LocalStore(example_store).get("digits", 1)
    return data, dataclasses.replace(manifest, version=0)


def test_register_get_and_dedupe(s3, model) -> None:
    data, draft = model
    store = S3Store(BUCKET, "models", client=s3)
    calls: list[dict[str, Any]] = []
    real_put = s3.put_object
    s3.put_object = lambda **kw: calls.append(kw) or real_put(**kw)
    m1, created = store.register(data, draft)
    again, created_again = store.register(data, draft)
    assert (m1.version, created, again.version, created_again) == (1, True, 1, False)
    manifest, got = store.get("digits")
    assert got == data and manifest.sha256 == draft.sha256
    assert store.names() == ["digits"] and [m.version for m in store.versions("digits")] == [1]
    # S3 recomputes this SHA-256 on upload and refuses changed bytes (moto does not check it).
    blob_put = next(c for c in calls if c["Key"].endswith(".onnx"))
    assert blob_put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_tampered_blob_is_detected_on_download(s3, model) -> None:
    data, draft = model
    store = S3Store(BUCKET, "models", client=s3)
    store.register(data, draft)
    s3.put_object(Bucket=BUCKET, Key=store.blob_key(draft.sha256, "digits"), Body=data + b"x")
    with pytest.raises(ChecksumMismatch):
        store.get("digits", 1)


def test_version_race_takes_the_next_number(s3, model) -> None:
    data, draft = model
    store = S3Store(BUCKET, "models", client=s3)
    real_put = s3.put_object
    raced: list[bool] = []

    def racing_put(**kwargs: Any) -> Any:
        # Another writer claims version 1 between our listing and our manifest write.
        if kwargs["Key"].endswith("/1/manifest.json") and not raced:
            raced.append(True)
            racer = dataclasses.replace(draft, sha256="0" * 64, version=1)
            real_put(Bucket=BUCKET, Key=kwargs["Key"], Body=json.dumps(racer.to_dict()).encode())
        return real_put(**kwargs)

    s3.put_object = racing_put
    m, created = store.register(data, draft)
    assert raced and created and m.version == 2
    assert [v.sha256 for v in store.versions("digits")] == ["0" * 64, draft.sha256]


def test_fetch_by_s3_uri_needs_and_checks_sha256(s3, model) -> None:
    data, draft = model
    store = S3Store(BUCKET, "models", client=s3)
    m, _ = store.register(data, draft)
    uri = store.version_uri(m)
    assert uri == f"s3://{BUCKET}/models/digits/1"
    manifest, got = fetch(uri, sha256=m.sha256, s3_client=s3)
    assert got == data and manifest.ref == "digits@1"
    with pytest.raises(ModelStoreError, match="SLIPWAY_MODEL_SHA256"):
        fetch(uri, s3_client=s3)
    with pytest.raises(ChecksumMismatch, match="was pinned"):
        fetch(uri, sha256="f" * 64, s3_client=s3)
    with pytest.raises(ModelNotFound):
        fetch(f"s3://{BUCKET}/models/digits/9", sha256=m.sha256, s3_client=s3)


def test_s3_uris_parse_in_one_place() -> None:
    assert S3Uri.parse("s3://b/models/x") == S3Uri("b", "models/x")
    assert str(S3Uri("b", "p")) == "s3://b/p" and is_s3_uri("s3://b") and not is_s3_uri(None)
    for bad, why in (("b/models", "is not an s3:// URI"), ("s3:///models", "names no bucket")):
        with pytest.raises(ModelStoreError, match=why):
            S3Uri.parse(bad)
    for uri in ("s3://b/team/models/digits/3", "s3://b/team/models/digits/3/manifest.json"):
        version = S3VersionUri.parse(uri)
        assert version == S3VersionUri("b", "team/models", "digits", 3)
        assert version.ref == "digits@3"
    assert S3VersionUri.parse("s3://b/digits/3/").prefix == ""
    for bad in ("s3://b/digits", "s3://b/models/digits/latest"):
        with pytest.raises(ModelStoreError, match="must name a model version"):
            S3VersionUri.parse(bad)


def test_stores_from_uris() -> None:
    client = object()
    root = S3Store.from_uri("s3://b", client=client)
    assert (root.bucket, root.prefix, root.client) == ("b", "models", client)
    assert S3Store.from_uri("s3://b/team/x/", client=client).prefix == "team/x"
    held = S3Store.holding("s3://b/team/x/digits/2", client=client)
    assert (held.bucket, held.prefix) == ("b", "team/x")
    opened = open_store("s3://b/team", s3_client=client)
    assert isinstance(opened, S3Store) and repr(opened) == "S3Store('s3://b/team')"


def test_get_uri_reads_only_its_own_store(s3, model) -> None:
    data, draft = model
    store = S3Store(BUCKET, "models", client=s3)
    m, _ = store.register(data, draft)
    assert store.get_uri(store.version_uri(m) + "/manifest.json") == (m, data)
    with pytest.raises(ModelStoreError, match="is not in S3Store"):
        store.get_uri(f"s3://{BUCKET}/other/digits/1")
    with pytest.raises(ModelStoreError, match="is not in S3Store"):
        store.get_uri("s3://another-bucket/models/digits/1")


def test_put_manifest_writes_a_version_once(s3, model) -> None:
    data, draft = model
    store = S3Store(BUCKET, "models", client=s3)
    m, _ = store.register(data, draft)
    other = dataclasses.replace(m, sha256="0" * 64)
    assert store.put_manifest(other) is False  # the version is taken: nothing written
    assert store.manifest("digits", 1) == m
    assert store.put_manifest(dataclasses.replace(m, version=2)) is True
    assert [v.version for v in store.versions("digits")] == [1, 2]
