"""Image models on the contract's real servers (issue 24): the Flask API under gunicorn, HTTP
mode (functions.predict.entrypoint: granian, as Cloud Run runs it) on this Python, and the
built container image in its HTTP mode under podman. Every request form for the PyTorch, Keras
and Hugging Face-style models (tests/image_models.py) over real HTTP, the scores equal to the
framework's on its reference preprocessing; the OIP's BYTES input through tritonclient's
binary extension; hostile images' statuses.

The in-process front ends (Lambda's event sources, the ASGI app, Flask's WSGI app) are
tests/functions/predict/test_image_requests.py; `slipway serve` is
tests/infra/local/test_image_serve.py.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.contract import gunicorn_server
from tests.image_models import FORMS, Form, ImageModels, check, check_raw, form_id

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SERVERS = ("flask-gunicorn", "http-mode", "image-http")
FRAMEWORKS = ("pytorch", "keras", "huggingface")
REPO = Path(__file__).resolve().parents[2]


def env_for(store: Path, model: str) -> dict[str, str]:
    return {"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": model, "SLIPWAY_METRICS": "off"}


@pytest.fixture(scope="module")
def readable_image_store(image_models: ImageModels) -> Iterator[Path]:
    """The image models where a container's uid (65534) can read them (conftest's
    readable_store does the same for the example)."""
    out = REPO / "build" / f"test-image-store-{os.getpid()}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(image_models.store, out)
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module", params=[(s, f) for s in SERVERS for f in FRAMEWORKS], ids=str)
def server(
    request: pytest.FixtureRequest,
    image_models: ImageModels,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """(framework, base URL) of one real server serving that framework's model."""
    kind, framework = request.param
    model = image_models.models[framework].ref
    log = tmp_path_factory.mktemp(f"{kind}-{framework}") / "server.log"
    if kind == "flask-gunicorn":
        with gunicorn_server.serve(env_for(image_models.store, model), log) as url:
            yield framework, url
    elif kind == "http-mode":
        from infra import servers

        port = servers.free_port()
        env = {**os.environ, **env_for(image_models.store, model), "PORT": str(port)}
        env["SLIPWAY_HTTP_WORKERS"] = "1"
        env.pop("AWS_LAMBDA_RUNTIME_API", None)
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "functions.predict.entrypoint"]
        with servers.running(cmd, log=log, env=env, cwd=REPO, url=f"{url}/health", timeout=60):
            yield framework, url
    else:
        from infra import servers
        from infra.image.run import spec, started

        engine, image = request.getfixturevalue("image_engine")
        store = request.getfixturevalue("readable_image_store")
        port = servers.free_port()
        env = {**env_for(store, model), "SLIPWAY_HTTP_WORKERS": "1"}
        run = spec(image, port, env=env, mounts=((str(store), str(store)),))
        with started(engine, run, port) as instance:
            yield framework, instance.url


@pytest.fixture(scope="module")
def http(server: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[1], timeout=60) as client:
        yield client


@pytest.mark.parametrize("form", FORMS, ids=[form_id(f) for f in FORMS])
def test_each_form_on_each_real_server(
    server: tuple[str, str], http: httpx.Client, image_models: ImageModels, form: Form
) -> None:
    model = image_models.models[server[0]]
    body, headers = form.request(image_models.items)
    r = http.post(form.path(model), content=body, headers=headers)
    assert r.headers["content-type"] == "application/json", r.headers
    check(model, form, r.status_code, r.json())


def test_tritonclient_binary_bytes(server: tuple[str, str], image_models: ImageModels) -> None:
    import tritonclient.http as triton

    model = image_models.models[server[0]]
    keys = ["0-jpeg", "1-cmyk", "0-palette-transparent"]
    client: Any = triton.InferenceServerClient(server[1].split("://", 1)[1], network_timeout=60)
    try:
        tensor = triton.InferInput("image", [len(keys)], "BYTES")
        data = np.array([image_models.items[k] for k in keys], dtype=np.object_)
        tensor.set_data_from_numpy(data, binary_data=True)
        result = client.infer(model.name, [tensor])
        (output,) = [o["name"] for o in result.get_response()["outputs"]]
        check_raw(model, keys, result.as_numpy(output))
    finally:
        client.close()


def test_hostile_images_on_each_real_server(server: tuple[str, str], http: httpx.Client) -> None:
    from tests.hostile_images import refuses_each

    if server[0] != "pytorch":
        pytest.skip("one model is enough: the refusals come before the model runs")
    refuses_each(lambda body, headers: http.post("/predict", content=body, headers=headers))
