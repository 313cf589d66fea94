"""End to end: `slipway serve` runs the built artifact; releases move under a live load."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort

from tests.infra.local.serving import Load, Served


def test_predictions_over_https_match_onnxruntime(
    served: Served, example_store: Path, digits_test_rows
) -> None:
    rows = digits_test_rows[:64]
    r = httpx.post(
        served.url + "/predict", json={"inputs": rows.tolist()}, verify=served.cert, timeout=30
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] == "1" and r.headers["x-slipway-function-version"] == "1"
    session = ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))
    labels, _ = session.run(None, {"input": rows.astype(np.float32)})
    assert r.json()["outputs"]["label"] == labels.tolist()
    bad = httpx.post(served.url + "/predict", json={"inputs": [[1, 2]]}, verify=served.cert)
    assert bad.status_code == 422 and "rows of shape [64]" in bad.json()["error"]["message"]


def test_canary_promote_rollback_under_load(served: Served, example_manifest) -> None:
    from model_store.backends.local import LocalStore
    from model_store.example import build_and_register

    manifest, created, _ = build_and_register(LocalStore(served.store), seed=1)
    assert created and manifest.version == 2
    assert "published predict:2" in served.cli("publish", "--model", "digits@2")
    with Load(served, example_manifest.example) as load:
        assert load.seen_since(0) == {"1"}
        served.cli("alias", "set", "live", "1", "--canary", "2", "--weight", "0.5")
        assert load.seen_since(time.monotonic()) == {"1", "2"}
        served.cli("alias", "set", "live", "2")
        assert load.seen_since(time.monotonic()) == {"2"}
        served.cli("rollback", "live")
        assert "1" in load.seen_since(time.monotonic())
        served.cli("rollback", "live")
        assert load.seen_since(time.monotonic()) == {"1"}
    assert load.failures == [] and set(load.statuses) <= {200, 429}
    status = json.loads(served.cli("status", "--json"))
    assert (
        status["aliases"]["live"]["version"] == 1 and status["versions"]["2"]["model"] == "digits@2"
    )
