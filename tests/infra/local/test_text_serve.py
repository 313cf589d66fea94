"""Text models behind `slipway serve` (issue 25): the local platform's HTTPS gateway, API
Gateway's events and the real Lambda runtime client, for the TF-IDF and character n-gram
pipelines, the BERT- and RoBERTa-style classifiers and the sentence-transformers directory
(tests/text_models.py).

Each request form, then the real clients: huggingface_hub's InferenceClient pointed at the
platform's URL (`text_classification`, `feature_extraction`: JSON with no Content-Type) and
tritonclient with a BYTES input of texts, in JSON and through the binary extension (an
embedding model's pooled vectors as the output `embedding`). Every answer is compared with
the original library's: scikit-learn's predict_proba, transformers' pipeline,
sentence-transformers' encode.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.infra.local.serving import Served, hub_trusting, serve, triton_client
from tests.text_models import (
    FORMS,
    NAMES,
    TEXTS,
    Form,
    TextModel,
    TextModels,
    applies,
    check,
    check_labels,
    check_outputs,
    check_vectors,
    form_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module", params=NAMES)
def platform(
    request: pytest.FixtureRequest,
    text_models: TextModels,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TextModel, Served]]:
    """`slipway serve --model <name>@1` (stopped by pid when the module is done with it)."""
    model = text_models.models[request.param]
    root = tmp_path_factory.mktemp(f"serve-{request.param}")
    with serve(text_models.store, root, "--model", model.ref) as served:
        yield model, served


@pytest.fixture(scope="module")
def http(platform: tuple[TextModel, Served]) -> Iterator[httpx.Client]:
    _, served = platform
    with httpx.Client(base_url=served.url, verify=served.cert, timeout=60) as client:
        yield client


@pytest.mark.parametrize("form", FORMS, ids=[form_id(f) for f in FORMS])
def test_each_form_through_the_local_platform(
    platform: tuple[TextModel, Served], http: httpx.Client, form: Form
) -> None:
    model, _ = platform
    if not applies(model, form):
        pytest.skip("top_k is a classifier's parameter")
    body, headers = form.request(model)
    r = http.post(form.path(model), content=body, headers=headers)
    assert r.headers["content-type"] == "application/json", r.headers
    assert r.headers.get("x-slipway-alias") == "live"
    check(model, form, r.status_code, r.json())


# -- huggingface_hub's InferenceClient ----------------------------------------------------------


@pytest.fixture
def inference_client(platform: tuple[TextModel, Served]) -> Iterator[Any]:
    """InferenceClient at the endpoint's URL (an Inference Endpoint's URL is its prediction
    route's), trusting the platform's certificate."""
    from huggingface_hub import InferenceClient

    _, served = platform
    with hub_trusting(served):
        yield InferenceClient(base_url=served.url + "/predict")


def test_inference_client_text_classification_and_feature_extraction(
    platform: tuple[TextModel, Served], inference_client: Any
) -> None:
    model, _ = platform
    client = inference_client
    if model.task == "embedding":
        for text in TEXTS:  # {"inputs": text}, no Content-Type; the vector back
            check_vectors(model, [text], [client.feature_extraction(text)])
        vectors = client.feature_extraction(list(TEXTS), truncate=True)  # top-level parameter
        check_vectors(model, list(TEXTS), vectors)
        return
    for text in TEXTS:  # {"inputs": text, "parameters": {}}, no Content-Type; [[...]] back
        got = client.text_classification(text)
        check_labels(model, [text], [[{"label": e.label, "score": e.score} for e in got]], None)
    top = client.text_classification(TEXTS[1], top_k=1, function_to_apply=model.function)
    check_labels(model, [TEXTS[1]], [[{"label": e.label, "score": e.score} for e in top]], 1)


# -- tritonclient: the Open Inference Protocol with a BYTES input -------------------------------


@pytest.fixture
def triton(platform: tuple[TextModel, Served]) -> Iterator[Any]:
    client = triton_client(platform[1])
    yield client
    client.close()


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_bytes_input_of_texts(
    platform: tuple[TextModel, Served], triton: Any, binary: bool
) -> None:
    import tritonclient.http as triton_http

    model, _ = platform
    meta = triton.get_model_metadata(model.name)
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    names = [o["name"] for o in meta["outputs"]]
    assert model.output in names
    if model.task == "embedding":
        assert names[-1] == "embedding"
        assert meta["outputs"][-1]["datatype"] == "FP32" and meta["outputs"][-1]["shape"][0] == -1
    tensor = triton_http.InferInput("text", [len(TEXTS)], "BYTES")
    tensor.set_data_from_numpy(np.array(TEXTS, dtype=np.object_), binary_data=binary)
    wanted = [triton_http.InferRequestedOutput(n, binary_data=binary) for n in names]
    result = triton.infer(model.name, [tensor], outputs=wanted)
    check_outputs(model, list(TEXTS), {n: result.as_numpy(n) for n in names})
    if model.task == "embedding":
        assert result.as_numpy("embedding").shape == (len(TEXTS), 32)
