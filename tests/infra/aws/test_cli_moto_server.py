"""The real `slipway` CLI against `moto_server` on loopback, checked with the real AWS CLI.

moto_server runs Lambda without Docker (set through its /moto-api/config), so an invoke
returns the reply queued through /moto-api/static/lambda-simple/response: the test queues
what the real prediction function answers to the smoke event. Every subprocess has a
timeout and the server is stopped by the fixture's finalizer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra import servers
from tests.infra.aws.conftest import BUCKET, FUNCTION, REGION, S3_STORE, create_world, real_reply

BIN = Path(sys.executable).parent
TIMEOUT_S = 120


def post_json(url: str, data: Any) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def moto_server(tmp_path: Path) -> Iterator[str]:
    """moto_server on loopback, with the CloudFormation gaps `osls deploy` meets filled
    (tests/infra/aws/motoserver.py); stopped by its pid when the test is done."""
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "tests.infra.aws.motoserver", "-H", "127.0.0.1", "-p", str(port)]
    ready = f"{url}/moto-api/data.json"
    log = tmp_path / "moto_server.log"
    with servers.running(cmd, log=log, url=ready, timeout=30, cwd=ROOT):
        post_json(f"{url}/moto-api/config", {"lambda": {"use_docker": False}})
        yield url


def client(endpoint: str, service: str, region: str = REGION) -> Any:
    """A boto3 client of moto_server at `endpoint`, with moto's test credentials."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def cli_env(endpoint: str, store: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLIPWAY_"))}
    return env | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "SLIPWAY_STORE": str(store),
        "SLIPWAY_S3_STORE": S3_STORE,
        "SLIPWAY_METRICS": "off",
    }


def sh(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def slipway(env: dict[str, str], *argv: str) -> str:
    return sh(env, str(BIN / "slipway"), *argv, "--target", "aws")


def aws_cli_alias(env: dict[str, str]) -> dict[str, Any]:
    out = sh(
        env, str(BIN / "aws"), "lambda", "get-alias", "--function-name", FUNCTION, "--name", "live"
    )
    alias: dict[str, Any] = json.loads(out)
    return alias


def queue(endpoint: str, reply: dict[str, Any], *, region: str = REGION) -> None:
    """The next invoke of moto's Docker-free Lambda (in `region`) answers `reply`."""
    results = {"results": [json.dumps(reply)], "region": region}
    post_json(f"{endpoint}/moto-api/static/lambda-simple/response", results)


def test_release_and_rollback_through_the_cli_as_the_aws_cli_sees_them(
    moto_server: str, two_models: Path, tmp_path: Path
) -> None:
    create_world(
        client(moto_server, "iam"), client(moto_server, "s3"), client(moto_server, "lambda")
    )
    env = cli_env(moto_server, two_models, tmp_path)

    queue(moto_server, real_reply(two_models, "digits@1"))
    out = slipway(env, "release", "--model", "digits@1", "--wait", "0")
    assert "released version 1 (digits@1) on alias live" in out
    assert aws_cli_alias(env)["FunctionVersion"] == "1"

    queue(moto_server, real_reply(two_models, "digits@2"))
    out = slipway(
        env, "release", "--model", "digits@2", "--steps", "0.5,1", "--wait", "1", "--poll", "1"
    )
    said = re.findall(r"alias live -> (.+)", out)
    assert said == ["1 + 2 at 0.5", "2"], out
    alias = aws_cli_alias(env)
    assert alias["FunctionVersion"] == "2"
    assert not alias.get("RoutingConfig", {}).get("AdditionalVersionWeights")

    status = json.loads(slipway(env, "status", "--json"))
    assert [v["model"] for v in status["versions"]] == ["digits@1", "digits@2"]
    assert [h["target"] for h in status["aliases"][0]["history"]] == ["1"]

    out = slipway(env, "rollback", "live")
    assert "alias live of slipway-dev-predict -> 1 (rolled back)" in out
    assert aws_cli_alias(env)["FunctionVersion"] == "1"
    # The model the rolled-back version serves is on S3, where the function reads it.
    s3 = client(moto_server, "s3")
    assert s3.head_object(Bucket=BUCKET, Key="models/digits/1/manifest.json")
