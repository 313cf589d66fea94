"""schemathesis against `slipway serve`'s own /openapi.json, over HTTPS on loopback.

Every generated request goes through the real gateway, execution environments and function;
every check schemathesis has is on (response-schema conformance included), and every 200
from POST /predict is recomputed with onnxruntime directly on the same rows.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig

from tests.infra.local.serving import Served, serve

pytestmark = pytest.mark.integration

# Generated requests per operation, by mode (>= 1000 in all; the document lists POST /predict).
EXAMPLES = {GenerationMode.POSITIVE: 800, GenerationMode.NEGATIVE: 400}
# The Open Inference Protocol's operations: its infer takes a body worth fuzzing; the GETs
# have no parameters (the model's name and version are in the documented path).
EXAMPLES_OIP_INFER = {GenerationMode.POSITIVE: 200, GenerationMode.NEGATIVE: 100}
EXAMPLES_OIP_GET = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 10}
# Every check, as configured by default, but for two documented answers (README):
# - a schema-valid input the model computes NaN or infinity for is refused with 422
#   non_finite_output, so positive-data acceptance admits 422 (the test requires that code);
# - a batch over the limit (the schema's maxItems) is 413 payload_too_large, a rejection
#   that negative-data rejection does not list by default.
POSITIVE_OK = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
NEGATIVE_OK = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": POSITIVE_OK},
            "negative_data_rejection": {"expected-statuses": [*NEGATIVE_OK, "5xx"]},
        }
    }
)
SEEN: Counter[str] = Counter()


@pytest.fixture(scope="module")
def platform(example_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(example_store, tmp_path_factory.mktemp("fuzz")) as s:
        yield s


@pytest.fixture(scope="module")
def session_model(platform: Served) -> ort.InferenceSession:
    return ort.InferenceSession(str(platform.store / "digits" / "1" / "model.onnx"))


def test_every_generated_request_is_answered_by_the_contract(
    platform: Served, session_model: ort.InferenceSession
) -> None:
    # The document `slipway serve` serves, fetched over HTTPS. (schemathesis's pytest loader,
    # from_fixture, fails on pytest 9, so its strategies are driven with hypothesis here.)
    api = schemathesis.openapi.from_url(
        platform.url + "/openapi.json", verify=platform.cert, config=CONFIG
    )
    checks = list(CHECKS.get_all())
    operations = [result.ok() for result in api.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {"POST /predict"}

    for operation, mode in itertools.product(operations, GenerationMode):
        fuzz(operation, mode, platform, session_model, checks)


def fuzz(
    operation: Any,
    mode: GenerationMode,
    platform: Served,
    session_model: ort.InferenceSession,
    checks: list[Any],
) -> None:
    """Up to EXAMPLES generated requests for one operation in one mode."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=(
            EXAMPLES
            if not operation.path.startswith("/v2")
            else EXAMPLES_OIP_INFER
            if operation.method.upper() == "POST"
            else EXAMPLES_OIP_GET
        )[mode],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def exercise(case: Any) -> None:
        response = case.call_and_validate(
            base_url=platform.url, verify=platform.cert, checks=checks
        )
        SEEN[f"{mode.value} {case.method} {case.path} {response.status_code}"] += 1
        assert response.status_code < 500, response.text[:500]
        if case.path.startswith("/v2"):
            # The Open Inference Protocol's own error shape: {"error": "..."}.
            if response.status_code >= 400:
                assert isinstance(response.json()["error"], str), response.text[:500]
        elif mode is GenerationMode.NEGATIVE and response.status_code == 413:
            assert response.json()["error"]["code"] == "payload_too_large", response.text
        elif mode is GenerationMode.POSITIVE and response.status_code == 422:
            # Schema-valid inputs the model cannot compute: the one documented refusal.
            assert response.json()["error"]["code"] == "non_finite_output", response.text
        if case.method == "POST" and case.path == "/predict" and response.status_code == 200:
            # {"inputs": rows} or {"instances": [row or {"input": row}, ...]} (issue 16)
            given = case.body.get("inputs") or [
                r["input"] if isinstance(r, dict) else r for r in case.body["instances"]
            ]
            rows = np.asarray(given, dtype=np.float32)
            labels, probabilities = session_model.run(None, {"input": rows})
            outputs = response.json()["outputs"]
            assert outputs["label"] == labels.tolist()
            np.testing.assert_allclose(
                outputs["probabilities"], probabilities, rtol=1e-5, atol=1e-6
            )

    try:
        exercise()
    except Unsatisfiable:
        # Nothing to make invalid: an operation with no parameters or body (GET /health).
        if mode is not GenerationMode.NEGATIVE:
            raise


def test_at_least_a_thousand_requests_were_fuzzed() -> None:
    # Runs after the parametrized test in this module (file order).
    total = sum(SEEN.values())
    print(f"fuzzed requests: {total}: {dict(SEEN)}")
    assert total >= 1000, dict(SEEN)
