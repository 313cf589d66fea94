"""The platform's Lambda behaviour, with a small stdlib test function (no build needed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from infra.local.gateway.background import BackgroundPlatform
from infra.local.gateway.server import LocalPlatform
from infra.local.runtime.artifacts import runtime_dir
from infra.local.state.store import StateStore, Version

FAULTY = str(Path(__file__).parents[2] / "fixtures" / "functions" / "faulty")


def publish(root: Path, alias: str | None = "live", **env: str) -> int:
    version = Version(number=0, handler="handler.handler", code=(FAULTY,), env=env, timeout_s=2.0)
    with StateStore(root).change() as box:
        box[0], v = box[0].publish(version)
        if alias:
            box[0] = box[0].set_alias(alias, v.number)
    return v.number


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[BackgroundPlatform, httpx.Client]]:
    publish(tmp_path)
    publish(tmp_path, alias="broken", FAULTY_FAIL_INIT="1")
    lp = LocalPlatform(
        tmp_path,
        runtime_dir=runtime_dir(tmp_path),
        port=0,
        concurrency=2,
        idle_s=60,
        expose=("broken",),
        log=lambda _: None,
    )
    with (
        BackgroundPlatform(lp) as bg,
        httpx.Client(base_url=bg.url, verify=str(lp.cert), timeout=20) as client,
    ):
        yield bg, client


def test_https_with_lambda_environment_and_reuse(platform) -> None:
    bg, client = platform
    first = client.get("/hello")
    second = client.get("/hello")
    assert first.status_code == second.status_code == 200
    assert first.json()["pid"] == second.json()["pid"]  # the warm environment is reused
    assert first.json()["version"] == "1" and 0 < first.json()["remaining_ms"] <= 2000
    assert first.headers["x-slipway-function-version"] == "1" and first.headers["apigw-requestid"]
    assert bg.envs() == 1


def test_events_validate_against_powertools_model(platform) -> None:
    _, client = platform
    r = client.post("/echo?a=1&a=2", json={"x": 1}, headers={"Cookie": "c=1; d=2", "X-Multi": "1"})
    event = APIGatewayProxyEventV2Model(**r.json())
    assert (
        event.rawPath == "/echo"
        and event.rawQueryString == "a=1&a=2"
        and event.cookies == ["c=1", "d=2"]
    )
    assert (
        event.requestContext.http.method == "POST"
        and str(event.requestContext.http.sourceIp) == "127.0.0.1/32"
    )
    assert event.body == '{"x":1}' and event.headers["x-multi"] == "1"
    binary = client.post(
        "/echo", content=b"\x00\xff", headers={"content-type": "application/octet-stream"}
    )
    assert APIGatewayProxyEventV2Model(**binary.json()).isBase64Encoded


def test_results_map_as_api_gateway_does(platform) -> None:
    _, client = platform
    assert client.get("/string").text == "plain string result"
    assert client.get("/dict").json() == {"hello": "world"}
    cookies = client.get("/cookies")
    assert cookies.status_code == 201 and cookies.headers.get_list("set-cookie") == [
        "a=1",
        "b=2; Path=/",
    ]
    assert client.get("/binary").content == b"\x00\x01\xff"


def test_request_over_10_mb_is_413(platform) -> None:
    _, client = platform
    r = client.post("/echo", content=b"x" * (10 * 1024 * 1024 + 1))
    assert r.status_code == 413 and "10 MB" in r.json()["message"]


def test_concurrency_limit_throttles_the_excess(platform) -> None:
    bg, client = platform
    with ThreadPoolExecutor(5) as pool:
        statuses = sorted(pool.map(lambda _: client.get("/sleep?ms=800").status_code, range(5)))
    assert statuses == [200, 200, 429, 429, 429]
    assert bg.platform.pool.peak <= 2 and bg.envs() <= 2


def test_crash_and_timeout_are_502_and_the_environment_is_replaced(platform) -> None:
    _, client = platform
    pid = client.get("/hello").json()["pid"]
    crash = client.get("/crash")
    assert crash.status_code == 502 and "exited with code 3" in crash.json()["message"]
    after_crash = client.get("/hello")
    assert after_crash.status_code == 200 and after_crash.json()["pid"] != pid
    timeout = client.get("/sleep?ms=5000")
    assert timeout.status_code == 502 and "timed out after 2 s" in timeout.json()["message"]
    after_timeout = client.get("/hello")
    assert (
        after_timeout.status_code == 200
        and after_timeout.json()["pid"] != after_crash.json()["pid"]
    )
    error = client.get("/raise")
    assert error.status_code == 502 and "boom on purpose" in error.json()["message"]


def test_init_failure_is_a_clear_502_and_other_versions_keep_serving(platform) -> None:
    _, client = platform
    broken = client.get("/broken/hello")
    assert broken.status_code == 502
    assert (
        "init failed on purpose" in broken.json()["message"]
        and broken.headers["x-slipway-function-version"] == "2"
    )
    assert client.get("/hello").status_code == 200


def test_integration_timeout_is_504(tmp_path: Path) -> None:
    publish(tmp_path)
    lp = LocalPlatform(
        tmp_path,
        runtime_dir=runtime_dir(tmp_path),
        port=0,
        tls=False,
        log=lambda _: None,
        integration_timeout_s=0.5,
    )
    with BackgroundPlatform(lp) as bg:
        r = httpx.get(bg.url + "/sleep?ms=1500", timeout=10)
    assert r.status_code == 504 and r.json() == {"message": "Endpoint request timed out"}


def test_alias_change_reclaims_unused_versions(platform, tmp_path: Path) -> None:
    bg, client = platform
    assert client.get("/hello").json()["version"] == "1"
    assert bg.envs() == 1
    v3 = publish(tmp_path, alias=None)
    with StateStore(tmp_path).change() as box:
        box[0] = box[0].set_alias("live", v3)
    assert client.get("/hello").json()["version"] == str(v3)
    assert bg.envs() == 1  # version 1's idle environment went when no alias used it


def _log_lines(root: Path, needle: str, count: int) -> list[str]:
    """Function log lines holding `needle`, once `count` are there (the pump writes them
    asynchronously, so they may trail the response a little)."""
    deadline = time.monotonic() + 10
    while True:
        text = (root / "logs" / "functions.log").read_text(errors="replace")
        found = [line for line in text.splitlines() if needle in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_log_lines_of_any_length_never_wedge_the_environment(platform, tmp_path: Path) -> None:
    _, client = platform
    pid = client.get("/hello").json()["pid"]
    # Over asyncio's 64 KiB line limit, then over CloudWatch's 256 KB event limit twice (the
    # pipe holds 64 KiB: with nothing draining it the function would block in print).
    for size in (70_000, 300_000, 300_000):
        r = client.get(f"/print?bytes={size}")
        assert r.status_code == 200 and r.json()["pid"] == pid, r.text
    assert client.get("/hello").json()["pid"] == pid  # the same environment, still answering
    lines = _log_lines(tmp_path, "kkkk", 3)
    assert len(lines) == 3
    assert lines[0].endswith("] " + "k" * 70_000)  # whole: under the event limit
    for cut in lines[1:]:
        assert len(cut.encode()) <= 256 * 1024 - 26
        assert cut.endswith("as CloudWatch Logs' 256 KB]") and "this line was 300000 bytes" in cut
