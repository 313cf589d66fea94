"""Image models behind `slipway serve` (issue 24): the local platform's HTTPS gateway, API
Gateway's events (binary bodies base64) and the real Lambda runtime client, for a PyTorch, a
Keras and a Hugging Face-style model (tests/image_models.py).

Each request form, then the real clients: huggingface_hub's InferenceClient pointed at the
platform's URL (`image_classification`, raw bytes with no Content-Type, and with `top_k` as
JSON) and tritonclient with a BYTES input holding encoded images, in JSON (base64) and through
the binary extension. Every answer is compared with the original framework's scores on its
reference preprocessing. Hostile images get their status through the gateway, and the
environment that refused them keeps serving (no new cold start).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.image_models import FORMS, Form, ImageModel, ImageModels, b64, check, form_id
from tests.infra.local.serving import Served, serve

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FRAMEWORKS = ("pytorch", "keras", "huggingface")
KEYS = ["0-jpeg", "1-png", "0-cmyk", "1-exif-rotated", "0-palette-transparent", "1-webp"]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def platform(
    request: pytest.FixtureRequest,
    image_models: ImageModels,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ImageModel, Served]]:
    """`slipway serve --model photos-<framework>@1` (stopped by pid when the module is done)."""
    model = image_models.models[request.param]
    root = tmp_path_factory.mktemp(f"serve-{request.param}")
    with serve(image_models.store, root, "--model", model.ref) as served:
        yield model, served


@pytest.fixture(scope="module")
def http(platform: tuple[ImageModel, Served]) -> Iterator[httpx.Client]:
    _, served = platform
    with httpx.Client(base_url=served.url, verify=served.cert, timeout=60) as client:
        yield client


@pytest.mark.parametrize("form", FORMS, ids=[form_id(f) for f in FORMS])
def test_each_form_through_the_local_platform(
    platform: tuple[ImageModel, Served], http: httpx.Client, image_models: ImageModels, form: Form
) -> None:
    model, _ = platform
    body, headers = form.request(image_models.items)
    r = http.post(form.path(model), content=body, headers=headers)
    assert r.headers["content-type"] == "application/json", r.headers
    assert r.headers.get("x-slipway-alias") == "live"
    check(model, form, r.status_code, r.json())


# -- huggingface_hub's InferenceClient ----------------------------------------------------------


@pytest.fixture
def hf_session(platform: tuple[ImageModel, Served]) -> Iterator[None]:
    """huggingface_hub's shared HTTP client, trusting the platform's self-signed certificate
    (its documented hook, set_client_factory); the default one again afterwards."""
    import httpx2
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    _, served = platform
    context = ssl.create_default_context(cafile=served.cert)
    set_client_factory(lambda: httpx2.Client(verify=context, timeout=60))
    yield
    set_client_factory(default_client_factory)


def test_inference_client_image_classification(
    platform: tuple[ImageModel, Served],
    image_models: ImageModels,
    hf_session: None,
    tmp_path: Path,
) -> None:
    from huggingface_hub import InferenceClient

    from tests.image_models import check_answer

    model, served = platform
    # The endpoint's URL is its prediction route's (an Inference Endpoint's is its root).
    client = InferenceClient(base_url=served.url + "/predict")
    for key in KEYS:
        data = image_models.items[key]
        got = client.image_classification(data)  # raw bytes, no Content-Type
        check_answer(model, [key], [{"label": e.label, "score": e.score} for e in got], True, 5)
        top = client.image_classification(data, top_k=2)  # {"inputs": base64, "parameters"}
        check_answer(model, [key], [{"label": e.label, "score": e.score} for e in top], True, 2)
    path = tmp_path / "photo.jpg"  # a file path, as the client's docs show
    path.write_bytes(image_models.items["1-jpeg"])
    got = client.image_classification(path, top_k=1)
    check_answer(model, ["1-jpeg"], [{"label": e.label, "score": e.score} for e in got], True, 1)


# -- tritonclient: the Open Inference Protocol with a BYTES input -------------------------------


@pytest.fixture
def triton(platform: tuple[ImageModel, Served]) -> Iterator[Any]:
    import tritonclient.http as triton_http

    _, served = platform
    host = served.url.split("://", 1)[1]
    client = triton_http.InferenceServerClient(
        host, ssl=True, ssl_options={"ca_certs": served.cert}, network_timeout=60
    )
    yield client
    client.close()


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_bytes_input_of_encoded_images(
    platform: tuple[ImageModel, Served], image_models: ImageModels, triton: Any, binary: bool
) -> None:
    import tritonclient.http as triton_http

    from tests.image_models import check_raw

    model, _ = platform
    meta = triton.get_model_metadata(model.name)
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    (output,) = [o["name"] for o in meta["outputs"]]
    data = [image_models.items[k] for k in KEYS]
    # In JSON a BYTES element is text: images go as base64 (as OpenVINO Model Server takes
    # them); the binary extension carries the encoded bytes as they are.
    elements = np.array(data if binary else [b64(d) for d in data], dtype=np.object_)
    tensor = triton_http.InferInput("image", [len(KEYS)], "BYTES")
    tensor.set_data_from_numpy(elements, binary_data=binary)
    wanted = triton_http.InferRequestedOutput(output, binary_data=binary)
    result = triton.infer(model.name, [tensor], outputs=[wanted])
    scores = result.as_numpy(output)
    assert scores.shape == (len(KEYS), len(model.labels))
    check_raw(model, KEYS, scores)


def test_tritonclient_refusals_name_what_was_wrong(
    platform: tuple[ImageModel, Served], triton: Any
) -> None:
    import tritonclient.http as triton_http
    from tritonclient.utils import InferenceServerException

    model, _ = platform
    tensor = triton_http.InferInput("image", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([b"II*\x00" + b"\x00" * 64], np.object_), binary_data=True)
    with pytest.raises(InferenceServerException, match="image/tiff") as caught:
        triton.infer(model.name, [tensor])
    assert caught.value.status() == "415"


# -- hostile images through the gateway ---------------------------------------------------------


def environments(http: httpx.Client) -> dict[str, str]:
    """The platform's execution environments (id -> state), from the console's snapshot."""
    snapshot = http.get("/_slipway/api/snapshot").json()
    return {e["id"]: e["state"] for e in snapshot["environments"]}


def test_hostile_images_get_their_status_and_the_environment_keeps_serving(
    platform: tuple[ImageModel, Served], http: httpx.Client
) -> None:
    from tests.hostile_images import photo, refuses_each

    model, _ = platform
    if model.framework != "pytorch":
        pytest.skip("one model is enough: the refusals come before the model runs")
    assert http.post("/predict", content=photo()).status_code == 200
    before = environments(http)
    refuses_each(lambda body, headers: http.post("/predict", content=body, headers=headers))
    # A body over Lambda's invoke limit (6 MB) is the function's 413 too, and one over the
    # gateway's own (10 MB) the gateway's.
    r = http.post("/predict", content=photo() + b"\0" * (6 * 1024 * 1024))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", r.text
    r = http.post("/predict", content=photo() + b"\0" * (11 * 1024 * 1024))
    assert r.status_code == 413, r.text[:300]
    assert http.post("/predict", content=photo()).status_code == 200
    after = environments(http)
    # Requests one at a time: the environment that took them all is still there (none was
    # killed for memory or a fault and started again).
    assert set(before) <= set(after) and "stopping" not in after.values(), (before, after)


def test_the_openapi_document_describes_what_is_served(
    platform: tuple[ImageModel, Served], http: httpx.Client, image_models: ImageModels
) -> None:
    """Every JSON request form validates against the documented request body, and every
    answer against the documented 200 answer (JSON Schema 2020-12, as OpenAPI 3.1 uses)."""
    from jsonschema import Draft202012Validator
    from openapi_spec_validator import validate

    from tests.hostile_images import HOSTILE

    model, _ = platform
    document = http.get("/openapi.json").json()
    validate(document)
    post = document["paths"]["/predict"]["post"]
    content = post["requestBody"]["content"]
    assert list(content) == [
        "image/*",
        "application/octet-stream",
        "multipart/form-data",
        "application/json",
    ]
    request = Draft202012Validator(content["application/json"]["schema"])
    answer = Draft202012Validator(post["responses"]["200"]["content"]["application/json"]["schema"])
    for form in FORMS:
        if form.name == "oip-json":
            continue
        body, headers = form.request(image_models.items)
        if form.name.startswith(("tf", "hf")):
            request.validate(json.loads(body))
        r = http.post("/predict", content=body, headers=headers)
        assert r.status_code == 200
        answer.validate(r.json())
    # Each refusal's status is documented, with its code.
    for _, _, status, code, _ in HOSTILE:
        documented = post["responses"][str(status)]["content"]["application/json"]["schema"]
        assert code in documented["properties"]["error"]["properties"]["code"]["enum"], code
    infer = document["paths"][f"/v2/models/{model.name}/infer"]["post"]
    inputs = infer["requestBody"]["content"]["application/json"]["schema"]["properties"]["inputs"]
    (tensor,) = inputs["items"]["anyOf"]
    assert tensor["properties"]["name"]["enum"] == ["image"]
    assert tensor["properties"]["datatype"]["enum"] == ["BYTES"]
    assert http.get("/docs").status_code == 200
