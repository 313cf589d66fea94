"""`slipway loadtest` end to end: real Locust in a child process against real Flask apps on
loopback, two model versions behind one URL (a canary), bounded by a request budget."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from infra.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def canary_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from model_store.backends.local import LocalStore
    from model_store.example import build_and_register

    root = tmp_path_factory.mktemp("canary-store")
    build_and_register(LocalStore(root), seed=0)
    build_and_register(LocalStore(root), seed=1)
    return root


def _app(store: Path, ref: str) -> Any:
    from functions.flask_api.app import create_app
    from functions.predict.config import Settings
    from functions.predict.service import PredictionService

    settings = Settings.from_mapping({"SLIPWAY_MODEL": ref, "SLIPWAY_STORE": str(store)})
    return create_app(PredictionService.from_settings(settings))


@pytest.fixture(scope="module")
def canary_url(canary_store: Path) -> Iterator[str]:
    """Half the requests to digits@1, half to digits@2, on one loopback port."""
    apps = itertools.cycle([_app(canary_store, "digits@1"), _app(canary_store, "digits@2")])
    lock = threading.Lock()

    def split(environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            app = next(apps)
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, split, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/predict"
    finally:
        server.shutdown()
        thread.join(5)


def test_loadtest_reports_both_versions_and_stops_at_the_budget(
    canary_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    argv = ["loadtest", canary_url, "--users", "2", "--requests", "60", "--duration", "30"]
    assert main([*argv, "--batch", "3", "--out", str(out)]) == 0
    report = json.loads((out / "loadtest.json").read_text())
    assert report["overall"]["requests"] == 60
    assert report["overall"]["errors"] == 0 and report["overall"]["throttles"] == 0
    assert set(report["by_version"]) == {"1", "2"}
    assert report["by_version"]["1"]["requests"] + report["by_version"]["2"]["requests"] == 60
    assert report["settings"]["batch"] == 3
    for chart in ("latency_over_time", "latency_histogram", "version_split"):
        assert (out / f"{chart}.png").read_bytes()[:8] == PNG
    markdown = (out / "loadtest.md").read_text()
    assert "| 1 |" in markdown and "| 2 |" in markdown
    assert "p99_ms" in capsys.readouterr().out


def test_bodies_can_come_from_the_local_store(
    canary_url: str, canary_store: Path, tmp_path: Path
) -> None:
    argv = ["loadtest", canary_url, "--users", "1", "--requests", "10", "--duration", "30"]
    argv += ["--model", "digits@1", "--store", str(canary_store), "--out", str(tmp_path)]
    assert main(argv) == 0
    report = json.loads((tmp_path / "loadtest.json").read_text())
    assert report["overall"]["ok"] == 10


def test_duration_bounds_a_run_without_a_budget(canary_url: str, tmp_path: Path) -> None:
    argv = ["loadtest", canary_url, "--users", "1", "--duration", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    report = json.loads((tmp_path / "loadtest.json").read_text())
    assert 0 < report["overall"]["seconds"] <= 3.5


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--users", "0"], "--users must be at least 1"),
        (["--batch", "0"], "--batch must be at least 1"),
        (["--cacert", "/nonexistent/ca.pem"], "no such file"),
    ],
)
def test_bad_options_are_refused_with_the_reason(
    extra: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["loadtest", "http://127.0.0.1:9/predict", *extra]) == 1
    assert words in capsys.readouterr().err


def test_an_endpoint_without_a_manifest_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Port 9 (discard) on loopback: nothing listens, so GET /model fails.
    assert main(["loadtest", "http://127.0.0.1:9/predict", "--duration", "1"]) == 1
    assert "GET http://127.0.0.1:9/model failed" in capsys.readouterr().err


@pytest.fixture(scope="module")
def https_url(canary_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """digits@1 over HTTPS with a self-signed certificate made as `slipway serve` makes it."""
    from infra.local.gateway.tls import ensure_certificate

    cert, key = ensure_certificate(tmp_path_factory.mktemp("tls"))
    server = make_server(
        "127.0.0.1",
        0,
        _app(canary_store, "digits@1"),
        threaded=True,
        ssl_context=(str(cert), str(key)),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/predict", cert
    finally:
        server.shutdown()
        thread.join(5)


def test_https_with_the_self_signed_certificate(https_url: tuple, tmp_path: Path) -> None:
    url, cert = https_url
    argv = ["loadtest", url, "--users", "2", "--requests", "20", "--cacert", str(cert)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "loadtest.json").read_text())
    assert report["overall"]["ok"] == 20


def test_an_unverifiable_certificate_is_refused_unless_insecure(
    https_url: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = https_url
    assert main(["loadtest", url, "--requests", "5", "--out", str(tmp_path)]) == 1
    assert "--cacert" in capsys.readouterr().err
    argv = ["loadtest", url, "--users", "1", "--requests", "5", "--insecure"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "loadtest.json").read_text())["overall"]["ok"] == 5
