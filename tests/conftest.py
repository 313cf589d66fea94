"""Shared fixtures: the example model trained once per test session, real-format events."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# No test may reach real AWS: moto answers, with fake credentials.
for _key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_key, "testing")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def example_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local store holding digits@1, the example model."""
    from model_store.backends.local import LocalStore
    from model_store.example import build_and_register

    root = tmp_path_factory.mktemp("store")
    build_and_register(LocalStore(root))
    return root


@pytest.fixture(scope="session")
def example_manifest(example_store: Path) -> Any:
    from model_store.backends.local import LocalStore

    return LocalStore(example_store).manifest("digits")


@pytest.fixture(scope="session")
def digits_test_rows() -> Any:
    from model_store.example import train

    _, x_test, _ = train()
    return x_test


def load_event(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "events" / f"{name}.json").read_text())


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """make_event(kind, body=..., method=..., path=..., headers=..., b64=...) from a fixture file."""

    def make(
        kind: str = "http_api_v2",
        *,
        body: str | None = None,
        method: str = "POST",
        path: str = "/predict",
        content_type: str | None = "application/json",
        b64: bool = False,
    ) -> dict[str, Any]:
        event = copy.deepcopy(load_event(kind))
        event["body"] = body
        event["isBase64Encoded"] = b64
        if "httpMethod" in event:
            event["httpMethod"] = method
            event["path"] = event["resource"] = path
            headers = event["headers"]
            ct_key = "Content-Type"
            event["multiValueHeaders"].pop(ct_key, None)
        else:
            event["requestContext"]["http"]["method"] = method
            event["requestContext"]["http"]["path"] = event["rawPath"] = path
            headers = event["headers"]
            ct_key = "content-type"
        headers.pop(ct_key, None)
        if content_type is not None:
            headers[ct_key] = content_type
            if "multiValueHeaders" in event:
                event["multiValueHeaders"][ct_key] = [content_type]
        return event

    return make
