"""The targets the contract runs against: each stack, each event format, and real gunicorn."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract import gunicorn_server
from tests.contract.clients import Client, HttpClient, LambdaClient

EVENT_KINDS = {"v2": "http_api_v2", "v1": "rest_api_v1", "url": "function_url"}
TARGETS = [
    "fastapi-lambda-v2",
    "fastapi-lambda-v1",
    "fastapi-lambda-url",
    "flask-wsgi-v2",
    "flask-wsgi-v1",
    "flask-wsgi-url",
    "flask-gunicorn",
    "http-mode",  # the container image's HTTP mode (Cloud Run): the entrypoint, on this Python
    "image-http",  # the same, in the real image under podman, as Cloud Run starts it
]
HTTP_URLS = {
    "flask-gunicorn": "gunicorn_url",
    "http-mode": "http_mode_url",
    "image-http": "image_http_url",
}
MAX_BATCH = 100  # as in tests/functions/predict/test_handler.py, whose bad inputs we reuse


@pytest.fixture(scope="session")
def contract_env(example_store: Path) -> dict[str, str]:
    return {
        "SLIPWAY_STORE": str(example_store),
        "SLIPWAY_MAX_BATCH": str(MAX_BATCH),
        "SLIPWAY_METRICS": "off",
    }


@pytest.fixture(scope="session")
def fastapi_handler(contract_env: dict[str, str]) -> Any:
    from functions.predict.runtime import build

    return build(contract_env)


@pytest.fixture(scope="session")
def flask_app(contract_env: dict[str, str]) -> Any:
    from functions.flask_api.app import create_app
    from functions.predict.config import Settings
    from functions.predict.service import PredictionService

    return create_app(PredictionService.from_settings(Settings.from_mapping(contract_env)))


@pytest.fixture(scope="session")
def flask_handler(flask_app: Any) -> Any:
    from functions.flask_api.wsgi_lambda import make_handler

    return make_handler(flask_app, flask_app.extensions["slipway"].model_headers)


@pytest.fixture(scope="session")
def gunicorn_url(
    contract_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with gunicorn_server.serve(contract_env, log) as url:
        yield url


@pytest.fixture(scope="session")
def http_mode_url(
    contract_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """functions.predict.entrypoint without AWS_LAMBDA_RUNTIME_API: granian on a free port."""
    import os
    import sys

    from infra import servers

    port = servers.free_port()
    env = {**os.environ, **contract_env, "PORT": str(port), "SLIPWAY_HTTP_WORKERS": "1"}
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    log = tmp_path_factory.mktemp("http-mode") / "server.log"
    # granian listens on 0.0.0.0 as Cloud Run requires; the test talks to loopback only.
    cmd = [sys.executable, "-m", "functions.predict.entrypoint"]
    url = f"http://127.0.0.1:{port}"
    root = Path(__file__).resolve().parents[2]
    with servers.running(cmd, log=log, env=env, cwd=root, url=f"{url}/health", timeout=60):
        yield url


@pytest.fixture(scope="session")
def image_http_url(
    contract_env: dict[str, str], image_engine: tuple[Any, str], readable_store: Path
) -> Iterator[str]:
    """The built image in HTTP mode (podman, Cloud Run's variables), the store mounted."""
    from infra import servers
    from infra.image.run import spec, started

    engine, image = image_engine
    port = servers.free_port()
    store = str(readable_store)
    env = {**contract_env, "SLIPWAY_STORE": store, "SLIPWAY_HTTP_WORKERS": "1"}
    with started(engine, spec(image, port, env=env, mounts=((store, store),)), port) as instance:
        yield instance.url


def make_client(
    target: str, request: pytest.FixtureRequest, make_event: Callable[..., dict[str, Any]]
) -> Generator[Client, None, None]:
    stack, _, kind = target.rpartition("-")
    if target in HTTP_URLS:  # a real server over HTTP
        with httpx.Client(base_url=request.getfixturevalue(HTTP_URLS[target]), timeout=60) as http:
            yield HttpClient(target, http)
        return
    handler = request.getfixturevalue(
        "fastapi_handler" if stack == "fastapi-lambda" else "flask_handler"
    )
    yield LambdaClient(target, handler, make_event, EVENT_KINDS[kind])


@pytest.fixture(params=TARGETS)
def client(
    request: pytest.FixtureRequest, make_event: Callable[..., dict[str, Any]]
) -> Iterator[Client]:
    yield from make_client(request.param, request, make_event)


@pytest.fixture
def every_client(
    request: pytest.FixtureRequest, make_event: Callable[..., dict[str, Any]]
) -> Iterator[list[Client]]:
    makers = [make_client(target, request, make_event) for target in TARGETS]
    clients = [next(maker) for maker in makers]
    yield clients
    for maker in makers:
        maker.close()
