"""The function's init against a hostile S3: wrong bytes, a missing object, throttling.

moto in process answers S3; throttling is AWS's real error shape (503 SlowDown) injected
through botocore's before-call hook, so botocore's own retry handler sees it. Init must end
in a clear error, or succeed after bounded retries: never a half-loaded model.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from functions.predict.runtime import build
from model_store.backends.local import LocalStore
from model_store.backends.s3 import S3Store

pytestmark = pytest.mark.integration

BUCKET = "slipway-models"
# S3's own answer when throttling (its error document, as S3 sends it).
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>R1</RequestId></Error>"
)


class _Raw:
    """The raw HTTP body botocore reads from (urllib3's interface, as far as botocore uses it)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._data


@pytest.fixture
def s3(example_store: Path) -> Iterator[tuple[Any, str, str]]:
    """A bucket holding digits@1; yields (client, model URI, sha256)."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        manifest, data = LocalStore(example_store).get("digits", 1)
        store = S3Store(BUCKET, "models", client=client)
        stored, _ = store.register(data, dataclasses.replace(manifest, version=0))
        yield client, f"s3://{BUCKET}/models/digits/{stored.version}", stored.sha256


def env(uri: str, sha256: str) -> dict[str, str]:
    return {"SLIPWAY_MODEL": uri, "SLIPWAY_MODEL_SHA256": sha256, "SLIPWAY_METRICS": "off"}


def throttle(client: Any, times: int) -> list[str]:
    """The next `times` GetObject requests get 503 SlowDown; returns the requests sent.

    `before-send` fires for every attempt inside botocore's retry loop (unlike before-call,
    which would skip the retries), so this is what a throttled request looks like to it."""
    seen: list[str] = []

    def hook(request: Any, **_: Any) -> Any:
        seen.append(request.url)
        if len(seen) > times:
            return None
        headers = {"Content-Type": "application/xml", "Content-Length": str(len(SLOW_DOWN))}
        return AWSResponse(request.url, 503, headers, _Raw(SLOW_DOWN))

    client.meta.events.register("before-send.s3.GetObject", hook)
    return seen


def test_bytes_that_do_not_match_their_sha256_fail_init_clearly(s3) -> None:
    client, uri, sha256 = s3
    manifest = S3Store(BUCKET, "models", client=client).manifest("digits", 1)
    key = S3Store(BUCKET, "models", client=client).blob_key(manifest.sha256, "digits")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"not the model")
    with pytest.raises(Exception) as info:
        build(env(uri, sha256), s3_client=client)
    assert "sha256" in str(info.value) and not isinstance(info.value, KeyError | AttributeError)


def test_a_missing_object_fails_init_naming_it(s3) -> None:
    client, uri, sha256 = s3
    missing = uri.rsplit("/", 1)[0] + "/9"
    with pytest.raises(Exception) as info:
        build(env(missing, sha256), s3_client=client)
    assert "digits/9" in str(info.value) and "does not exist" in str(info.value)


def test_throttling_is_retried_a_bounded_number_of_times(s3) -> None:
    client, uri, sha256 = s3
    seen = throttle(client, times=2)
    function = build(env(uri, sha256), s3_client=client)
    assert function.service.manifest.sha256 == sha256  # loaded whole after two throttles
    assert len(seen) >= 4  # manifest (throttled twice, then read) and the model's bytes


def test_throttling_that_does_not_end_fails_init_in_bounded_time(s3) -> None:
    client, uri, sha256 = s3
    seen = throttle(client, times=10_000)
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        build(env(uri, sha256), s3_client=client)
    assert "SlowDown" in str(info.value)
    assert 2 <= len(seen) <= 10 and time.monotonic() - started < 60, (len(seen), info.value)
