"""Warm, in-process contenders: each is a zero-argument callable timed the same way."""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from bench.models import BenchModel, body
from infra.loadtest.stats import percentile

Call = Callable[[], Any]


@dataclass(frozen=True)
class Timing:
    median_us: float
    p90_us: float
    p99_us: float
    n: int


def time_call(fn: Call, n: int, warmup: int = 20) -> Timing:
    """The bench's one timer: p50/p90/p99 of `n` calls after `warmup` (perf_counter_ns each)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t) / 1000.0)
    samples.sort()
    p50, p90, p99 = (round(percentile(samples, q), 2) for q in (50, 90, 99))
    return Timing(p50, p90, p99, n)


_SINK: list[TextIO] = []


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send stdout (EMF metrics, logs) to /dev/null, as Lambda ships it elsewhere; it still costs.

    The sink stays open: powertools' Logger keeps the stream it was first built with.
    """
    if not _SINK:
        _SINK.append(open(os.devnull, "w"))  # noqa: SIM115
    with contextlib.redirect_stdout(_SINK[0]):
        yield


def context() -> Any:
    from awslambdaric.lambda_context import LambdaContext

    deadline = int((time.time() + 900) * 1000)
    return LambdaContext("bench-request", None, None, deadline, "arn:aws:lambda:bench")


def v2_event(payload: bytes) -> dict[str, Any]:
    from infra.events import http_api_v2

    return http_api_v2(
        "POST", "/predict", body=payload, headers={"content-type": "application/json"}
    )


def function_env(model: BenchModel, store_root: str | None) -> dict[str, str]:
    env = {"SLIPWAY_MODEL": model.ref}
    if store_root:
        env["SLIPWAY_STORE"] = store_root
    return env


def contenders(model: BenchModel, batch: int, store_root: str | None) -> dict[str, Call]:
    """name -> callable for one model and batch size; a part that is missing is left out."""
    import onnxruntime as ort

    payload = body(model.rows, batch)
    x = np.asarray(model.rows[np.arange(batch) % len(model.rows)], dtype=np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # as the function runs it (SLIPWAY_ORT_THREADS=1)
    sess = ort.InferenceSession(str(model.path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    ctx = context()
    event = v2_event(payload)
    out: dict[str, Call] = {"raw onnxruntime": lambda: sess.run(None, {name: x})}

    out["slipway handler"] = slipway_handler(model, batch, store_root)

    from bench.naive_app import create_handler

    naive = create_handler(str(model.path))
    out["naive FastAPI+Mangum"] = lambda: _ok(naive(event, ctx))

    from functions.flask_api.app import create_app
    from functions.flask_api.wsgi_lambda import make_handler
    from functions.predict.config import Settings
    from functions.predict.service import PredictionService

    service = PredictionService.from_settings(
        Settings.from_mapping(function_env(model, store_root))
    )
    flask = make_handler(create_app(service), service.model_headers)
    out["Flask serverless-wsgi"] = lambda: _ok(flask(event, ctx))
    return out


def slipway_handler(model: BenchModel, batch: int, store_root: str | None, **env: str) -> Call:
    """Slipway's handler in process with `env` over the defaults (e.g. SLIPWAY_METRICS="off")."""
    from functions.predict.runtime import build

    event, ctx = v2_event(body(model.rows, batch)), context()
    slipway = build({**function_env(model, store_root), **env})
    return lambda: _ok(slipway(event, ctx))


def _ok(response: dict[str, Any]) -> dict[str, Any]:
    if response.get("statusCode") != 200:
        raise RuntimeError(f"benchmark call failed: {str(response)[:300]}")
    return response


def profile(fn: Call, n: int, top: int = 12) -> str:
    """cProfile's top entries by own time over `n` calls: what dominates."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    start = text.find("ncalls")
    return text[start:].rstrip() if start >= 0 else text
