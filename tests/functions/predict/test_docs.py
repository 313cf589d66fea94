"""GET /docs from the function's own assets: no external URL, the assets served, lazily."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from functions.predict import docs
from functions.predict.runtime import PredictFunction, build

CTX = SimpleNamespace(aws_request_id="req-1", function_name="predict")


@pytest.fixture(scope="module")
def function(example_store: Path) -> PredictFunction:
    return build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"})


def _get(function: PredictFunction, make_event: Any, path: str) -> dict[str, Any]:
    return function(make_event(method="GET", path=path, body=None, content_type=None), CTX)


def _body(response: dict[str, Any]) -> bytes:
    raw = response["body"]
    return base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()


def test_docs_page_loads_nothing_from_outside(function, make_event) -> None:
    page = _get(function, make_event, "/docs")
    assert page["statusCode"] == 200
    html = _body(page).decode()
    # Every src/href/url on the page is relative to the function: no CDN, no favicon site.
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""", html)
    found = [u for pair in urls for u in pair if u]
    assert found, html[:500]
    assert not [u for u in found if "//" in u], found
    assert "docs/assets/swagger-ui-bundle.js" in found and "openapi.json" in found


@pytest.mark.parametrize("name", sorted(docs.ASSETS))
def test_each_asset_is_served_with_its_type(function, make_event, name: str) -> None:
    response = _get(function, make_event, f"/docs/assets/{name}")
    assert response["statusCode"] == 200
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["content-type"] == docs.ASSETS[name]
    assert _body(response) == (docs.asset_dir() / name).read_bytes()


def test_swagger_ui_is_version_5(function, make_event) -> None:
    # Swagger UI 4 cannot render OpenAPI 3.1, which FastAPI writes.
    js = _body(_get(function, make_event, "/docs/assets/swagger-ui-bundle.js")).decode()
    assert re.search(r'PACKAGE_VERSION:"5\.\d+\.\d+"', js)
    spec = json.loads(_body(_get(function, make_event, "/openapi.json")))
    assert spec["openapi"].startswith("3.1")


@pytest.mark.parametrize("name", ["core.py", "..%2Fcore.py", "swagger-ui.css.map", "x" * 5000])
def test_other_names_are_a_json_404(function, make_event, name: str) -> None:
    response = _get(function, make_event, f"/docs/assets/{name}")
    assert response["statusCode"] == 404
    body = json.loads(response["body"])
    assert body["error"]["code"] == "not_found"
    assert len(response["body"]) < 1500  # the path is quoted clipped


def test_redoc_is_not_a_route(function, make_event) -> None:
    assert _get(function, make_event, "/redoc")["statusCode"] == 404


def test_docs_stay_off_the_cold_start_path(example_store, make_event, example_manifest) -> None:
    """POST /predict from a fresh process never imports the docs module; GET /docs does."""
    events = [
        make_event(body=json.dumps(example_manifest.example)),
        make_event(method="GET", path="/docs", body=None, content_type=None),
    ]
    code = (
        "import json, sys; from functions.predict.handler import handler\n"
        "for event in json.loads(sys.stdin.read()):\n"
        "    r = handler(event, None)\n"
        "    print(r['statusCode'], 'functions.predict.docs' in sys.modules)"
    )
    env = {**os.environ, "SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(events),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = out.stdout.strip().splitlines()[-2:]  # after the function's own log lines
    assert lines == ["200 False", "200 True"], out.stdout + out.stderr
