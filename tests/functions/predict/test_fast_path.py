"""POST /predict's one-pass path (PredictionService.predict_fast) against the general path.

Whenever the fast path answers, the general path gives the same status 200, bytes and batch;
when it gives up (None) the general path answers, so every refusal stays the general path's.
The handler answers each event the same with the fast path on and off.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.predict.runtime import PredictFunction, build
from functions.predict.service import PredictionService

CTX = None
ROW = [float(v) for v in range(64)]


@pytest.fixture(scope="module")
def function(example_store: Path) -> PredictFunction:
    return build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_MAX_BATCH": "8"})


@contextlib.contextmanager
def general_path_only(function: PredictFunction) -> Iterator[None]:
    """The handler and the service with their one-pass paths off."""
    saved = function._fast, function.service._fast
    function._fast, function.service._fast = False, None
    try:
        yield
    finally:
        function._fast, function.service._fast = saved


def agree(service: PredictionService, body: bytes) -> bool:
    """Whether the fast path answered; fails the test if it disagrees with the general path."""
    fast = service.predict_fast(body)
    slow = service.predict(body, "application/json", fast=False)
    if fast is None:
        return False
    assert slow.status == 200, slow.body[:300]
    assert fast == (slow.body, slow.batch_size)
    return True


@pytest.mark.parametrize(
    "rows",
    [
        [ROW],
        [ROW] * 8,  # the batch limit
        [[v / 7 for v in ROW]],
        [[v * 1e10 for v in ROW], [-v for v in ROW]],
        [[0] * 64],
    ],
)
def test_usual_bodies_are_answered_in_one_pass_with_the_general_paths_bytes(
    function: PredictFunction, rows: list[list[float]]
) -> None:
    body = json.dumps({"inputs": rows}).encode()
    assert agree(function.service, body)
    # Whitespace and layout do not matter to either path.
    assert agree(function.service, json.dumps({"inputs": rows}, indent=2).encode())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"null",
        b'{"inputs": []}',
        b'{"inputs": [[]]}',
        b'{"inputs": 5}',
        b'{"inputs": [1, 2]}',
        json.dumps({"inputs": [ROW] * 9}).encode(),  # over the batch limit
        json.dumps({"inputs": [ROW[:63]]}).encode(),
        json.dumps({"inputs": [ROW, ROW[:63]]}).encode(),  # ragged
        json.dumps({"inputs": [[ROW]]}).encode(),  # one nesting too many
        json.dumps({"inputs": [[*ROW[:63], 3.5e38]]}).encode(),  # just beyond float32
        json.dumps({"inputs": [[*ROW[:63], 1e39]]}).encode(),  # beyond float32
        json.dumps({"inputs": [[*ROW[:63], 1e300]]}).encode(),
        b'{"inputs": [[' + b"1," * 63 + b"1e999]]}",  # orjson: infinity
        b'{"inputs": [[' + b"1," * 63 + b"NaN]]}",
        b'{"inputs": [[' + b"1," * 63 + b"1.2.3]]}",
        b'{"inputs": [[' + b"1," * 63 + b"-]]}",
        b'{"inputs": [[' + b"1,," * 32 + b"]]}",
        b'{"inputs": [[' + b"1," * 63 + b'"1"]]}',
        b'{"inputs": [[' + b"1," * 63 + b"true]]}",
        b'{"inputs": [[' + b"1," * 63 + b"null]]}",
        b'{"instances": [[' + b"1," * 63 + b"1]]}",
        b'{"inputs": [[' + b"1," * 63 + b'1]], "x": 1}',
        b'{"inputs":: [[' + b"1," * 63 + b"1]]}",
        b'{"inputs": [[' + b"1," * 63 + b"1]]",
    ],
)
def test_anything_else_is_left_to_the_general_path(function: PredictFunction, body: bytes) -> None:
    # The general path accepts some of these ({"instances": ...}) and refuses the rest.
    assert function.service.predict_fast(body) is None


def test_a_huge_finite_value_gives_the_general_paths_answer(function: PredictFunction) -> None:
    # x·x overflows float32 for |x| > ~1.8e19: the general path decides, and accepts it.
    body = json.dumps({"inputs": [[*ROW[:63], 3e30]]}).encode()
    assert function.service.predict_fast(body) is None
    assert function.service.predict(body, "application/json", fast=False).status == 200


def test_random_bodies_agree(function: PredictFunction) -> None:
    """Random rows, some broken on purpose: whenever the fast path answers, it agrees."""
    rng = np.random.default_rng()  # another seed each run
    answered = 0
    for _ in range(200):
        batch = int(rng.integers(1, 10))
        rows: list[Any] = (rng.standard_normal((batch, 64)) * 10.0 ** rng.integers(-3, 25)).tolist()
        damage = int(rng.integers(0, 6))
        if damage == 1:
            rows[-1] = rows[-1][:-1]
        elif damage == 2:
            rows[0][int(rng.integers(0, 64))] = float(rng.choice([1e39, -1e39, 1e300]))
        body = json.dumps({"inputs": rows}).encode()
        answered += agree(function.service, body)
    assert answered > 50  # most bodies are well-formed: the fast path must be taking them


def test_the_handler_answers_the_same_with_the_fast_path_off(
    function: PredictFunction, make_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = [
        json.dumps({"inputs": [ROW]}),
        json.dumps({"inputs": [ROW] * 3}),
        json.dumps({"inputs": [[*ROW[:63], 1e39]]}),
        json.dumps({"inputs": [ROW[:3]]}),
        "{",
    ]
    function(make_event(body=bodies[0]), CTX)  # past the cold start
    for kind in ("http_api_v2", "function_url", "rest_api_v1"):
        for body in bodies:
            event = make_event(kind, body=body)
            fast = function(copy.deepcopy(event), CTX)
            with general_path_only(function):
                slow = function(copy.deepcopy(event), CTX)
            assert fast == slow
    capsys.readouterr()


def test_the_fast_path_writes_the_same_metrics(
    example_store: Path, make_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fn = build({"SLIPWAY_STORE": str(example_store), "POWERTOOLS_SERVICE_NAME": "fast-emf"})
    assert fn._fast
    capsys.readouterr()
    event = make_event(body=json.dumps({"inputs": [ROW, ROW]}))
    for _ in range(2):
        fn(copy.deepcopy(event), CTX)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert len(lines) == 2
    first, second = (
        [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for line in lines
    )
    assert first == ["Latency", "BatchSize", "ColdStart"] and second == ["Latency", "BatchSize"]
    assert lines[1]["BatchSize"] == [2.0] and lines[1]["Latency"][0] > 0


def test_every_front_end_gets_the_fast_path_through_predict(function: PredictFunction) -> None:
    body = json.dumps({"inputs": [ROW, ROW]}).encode()
    calls: list[bytes] = []
    real = function.service.predict_fast

    def counted(raw: bytes) -> tuple[bytes, int] | None:
        calls.append(raw)
        return real(raw)

    function.service.predict_fast = counted  # type: ignore[method-assign]
    try:
        reply = function.service.predict(body.decode(), "application/json")
        slow = function.service.predict(body, "application/json", fast=False)
        refused = function.service.predict(b"{", "application/json")
    finally:
        del function.service.predict_fast
    assert calls == [body, b"{"]
    assert (reply.status, reply.body, reply.batch_size) == (200, slow.body, 2)
    assert refused.status == 400
