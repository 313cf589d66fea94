"""moto in process (Lambda without Docker, S3, CloudWatch, IAM), a function, and two models.

Invoking needs Docker in moto's full Lambda, so these tests use moto's Docker-free Lambda
(`config={"lambda": {"use_docker": False}}`): it answers an invoke with the next reply queued
through moto's API. Tests queue the reply the real prediction function gives to the smoke
event, computed in process by functions.predict.runtime.build from the same model.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.aws.calls import Waits
from infra.aws.client import Aws
from model_store.backends.local import LocalStore
from model_store.manifest import sha256_hex

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION = "slipway-dev-predict"
BUCKET = "slipway-models"
S3_STORE = f"s3://{BUCKET}/models"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def function_zip(text: str = "def handler(event, context):\n    return event\n") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", text)
    return buf.getvalue()


def create_world(iam: Any, s3: Any, lam: Any) -> None:
    """The bucket and function a `serverless deploy` would have made."""
    role = iam.create_role(RoleName="slipway-lambda", AssumeRolePolicyDocument=json.dumps(TRUST))
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": function_zip()},
        Environment={"Variables": {"SLIPWAY_MAX_BATCH": "100"}},
    )


class Sleeps(list[float]):
    """A sleep that records instead of waiting; `hooks` run on each call (to change the world)."""

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list[Any] = []

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        for hook in self.hooks:
            hook()


@pytest.fixture
def world() -> Iterator[dict[str, Any]]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        lam = boto3.client("lambda", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        cw = boto3.client("cloudwatch", region_name=REGION)
        create_world(boto3.client("iam", region_name=REGION), s3, lam)
        sleeps = Sleeps()
        aws = Aws(lam, s3=s3, cloudwatch=cw, sleep=sleeps, waits=Waits(update_polls=5))
        yield {"lambda": lam, "s3": s3, "cloudwatch": cw, "aws": aws, "sleeps": sleeps}


@pytest.fixture(scope="session")
def two_models(example_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local store with digits@1 (the example) and digits@2 (same graph, other bytes)."""
    import onnx

    root = tmp_path_factory.mktemp("store2")
    shutil.copytree(example_store / "digits", root / "digits")
    store = LocalStore(root)
    manifest, data = store.get("digits", 1)
    model = onnx.load_from_string(data)
    model.doc_string = "digits, second release"
    data2 = model.SerializeToString()
    draft = dataclasses.replace(
        manifest, version=0, sha256=sha256_hex(data2), size_bytes=len(data2)
    )
    m2, created = store.register(data2, draft)
    assert created and m2.version == 2
    return root


def real_reply(store_root: Path, ref: str) -> dict[str, Any]:
    """What the real prediction function answers to the release's smoke event for `ref`."""
    from types import SimpleNamespace

    from functions.predict.runtime import build
    from infra.release.engine import smoke_event

    name, version = ref.split("@")
    manifest = LocalStore(store_root).manifest(name, int(version))
    function = build(
        {"SLIPWAY_STORE": str(store_root), "SLIPWAY_MODEL": ref, "SLIPWAY_METRICS": "off"}
    )
    context = SimpleNamespace(aws_request_id="smoke-1", function_name=FUNCTION)
    reply: dict[str, Any] = function(smoke_event(manifest), context)
    return reply


def queue_reply(reply: Any) -> None:
    """The next invoke of moto's Docker-free Lambda returns this payload."""
    from moto.moto_api._internal.models import moto_api_backend

    payload = reply if isinstance(reply, str) else json.dumps(reply)
    moto_api_backend.set_lambda_simple_result(payload, account_id=ACCOUNT, region=REGION)
