"""The console on a running `slipway serve` over HTTPS: its reserved path, numbers and stream.

/_slipway/ is answered by the gateway (an API Gateway-style `{"message"}` body, no function
version header) and never reaches the function; its request counts are exact; --no-console
turns the page off and keeps the path reserved. /docs and its assets come through the gateway.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from functions.predict import docs
from tests.infra.local.serving import Served, serve


def _client(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served.url, verify=served.cert, timeout=30)


def _totals(client: httpx.Client, version: str = "1") -> tuple[int, int]:
    time.sleep(0.6)  # past the snapshot's sharing time
    seen = client.get("/_slipway/api/snapshot").json()["traffic"]["versions"].get(version, {})
    return seen.get("total", 0), seen.get("total_ok", 0)


def test_page_is_one_file_loading_nothing_else(served: Served) -> None:
    with _client(served) as client:
        page = client.get("/_slipway/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert refs == ["data:,"], refs  # the favicon is inline; no script or style file
        moved = client.get("/_slipway", follow_redirects=False)
        assert moved.status_code == 302 and moved.headers["location"] == "/_slipway/"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_reserved_path_never_reaches_the_function(served: Served, method: str) -> None:
    with _client(served) as client:
        r = client.request(method, "/_slipway/predict", content=b'{"inputs": [[1]]}')
    assert r.status_code == 404
    assert "x-slipway-function-version" not in r.headers
    assert set(r.json()) == {"message"} and "console" in r.json()["message"]


def test_counts_are_exact_and_the_snapshot_names_versions_and_environments(
    served: Served, example_manifest
) -> None:
    with _client(served) as client:
        total0, ok0 = _totals(client)
        for _ in range(25):
            assert client.post("/predict", json=example_manifest.example).status_code == 200
        for _ in range(3):
            assert client.post("/predict", content=b"{").status_code == 400
        total1, ok1 = _totals(client)
        snap = client.get("/_slipway/api/snapshot").json()
    assert (total1 - total0, ok1 - ok0) == (28, 25)
    [version] = snap["versions"]
    assert version["model"] == "digits@1" and version["sha256"] == example_manifest.sha256
    assert snap["aliases"] == [
        {"name": "live", "version": 1, "canary": None, "weight": 0.0, "revision": 1}
    ]
    assert snap["example"] == example_manifest.example
    envs = snap["environments"]
    assert envs and {e["version"] for e in envs} == {1}
    assert all(e["state"] in {"idle", "busy"} and e["init_ms"] > 0 for e in envs)
    assert all(0 < e["max_memory_mb"] <= e["memory_mb"] for e in envs)
    assert any(line.startswith("REPORT RequestId:") for line in snap["log"])


def test_event_stream_sends_the_snapshot_every_second(served: Served) -> None:
    events = []
    started = time.monotonic()
    with (
        _client(served) as client,
        client.stream("GET", "/_slipway/api/events") as stream,
    ):
        assert stream.headers["content-type"] == "text/event-stream"
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            if len(events) == 3:
                break
    assert 1.5 < time.monotonic() - started < 10
    assert all(e["function"] == "predict" and e["versions"] for e in events)


def test_docs_and_assets_through_the_gateway(served: Served) -> None:
    with _client(served) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "docs/assets/swagger-ui-bundle.js" in page.text
        for name, media_type in docs.ASSETS.items():
            r = client.get(f"/docs/assets/{name}")
            assert r.status_code == 200, r.text[:300]
            assert r.headers["content-type"] == media_type
            assert r.content == (docs.asset_dir() / name).read_bytes()  # 1.5 MB of JS: whole


@pytest.mark.integration  # its own slipway serve (no `served` fixture to tell the tier)
def test_no_console_keeps_the_path_reserved(
    example_store: Path, tmp_path: Path, example_manifest
) -> None:
    with serve(example_store, tmp_path, "--no-console") as s, _client(s) as client:
        for path in ("/_slipway/", "/_slipway", "/_slipway/api/snapshot"):
            r = client.get(path)
            assert r.status_code == 404 and "--no-console" in r.json()["message"], path
            assert "x-slipway-function-version" not in r.headers
        assert client.post("/predict", json=example_manifest.example).status_code == 200
        # Only the exact prefix is reserved: /_slipwayX is the function's (its JSON 404).
        other = client.get("/_slipwayX")
        assert other.status_code == 404 and "error" in other.json()
