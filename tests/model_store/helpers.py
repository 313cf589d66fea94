"""Helpers of the model store's tests: serve a registered model through the prediction
function's handler in process; run the CLI expecting its one-line error."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CTX = SimpleNamespace(aws_request_id="req-1", function_name="predict")


def event(body: Any, *, method: str = "POST", path: str = "/predict") -> dict[str, Any]:
    """An HTTP API v2 event carrying `body` as JSON (None: no body)."""
    from infra.events import http_api_v2

    raw = json.dumps(body).encode() if body is not None else None
    return http_api_v2(method, path, body=raw, headers={"content-type": "application/json"})


def serve(store: Path, ref: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /predict with `body` to `ref` in `store`; the answer's outputs (status 200)."""
    from functions.predict.runtime import build

    function = build({"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": ref, "SLIPWAY_METRICS": "off"})
    response = function(event(body), CTX)
    assert response["statusCode"] == 200, response["body"][:500]
    return json.loads(response["body"])["outputs"]  # type: ignore[no-any-return]


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; assert exit 1 and one error line without a traceback; return that line."""
    from infra.cli import main

    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("… ")]  # progress
    assert code == 1, err
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"slipway {argv[0]}: error: "), err
    return lines[0]


def net_class() -> Any:
    """A small classifier module class, as a training script defines it (imports torch)."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
            self.head = torch.nn.Linear(16, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(x))

    return Net
