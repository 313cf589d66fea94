"""Warm, in-process contenders: each is a zero-argument callable timed the same way."""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import statistics
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


@dataclass(frozen=True)
class Interleaved:
    """Contenders timed in turn, chunk by chunk: every contender's timed calls (µs, in order)
    and, per cycle, the median of its chunk in that cycle. A cycle runs one chunk of every
    contender, so chunks of one cycle ran within milliseconds of each other, under one state
    of a machine whose speed drifts over seconds."""

    samples: dict[str, list[float]]
    chunks: dict[str, list[float]]  # chunks[name][c]: median of name's chunk in cycle c
    chunk: int

    @property
    def cycles(self) -> int:
        return len(next(iter(self.chunks.values()), []))

    def summary(self, name: str) -> dict[str, Any]:
        """Median of all its calls (the primary figure), quartiles, the quietest chunk."""
        s = sorted(self.samples[name])
        return {
            "median_us": round(statistics.median(s), 2),
            "p25_us": round(percentile(s, 25), 2),
            "p75_us": round(percentile(s, 75), 2),
            "min_chunk_us": round(min(self.chunks[name]), 2),
            "n": len(s),
            "cycles": self.cycles,
        }

    def ratio(self, name: str, against: str, limit: float | None = None) -> dict[str, Any]:
        """`name` over `against`: of their medians, and per cycle (median and quartiles of the
        cycles' chunk-median ratios: how much the ratio moves with the machine's state)."""
        per = sorted(a / b for a, b in zip(self.chunks[name], self.chunks[against], strict=True))
        out: dict[str, Any] = {
            "ratio": round(self.summary(name)["median_us"] / self.summary(against)["median_us"], 3),
            "cycle_median": round(statistics.median(per), 3),
            "cycle_p25": round(percentile(per, 25), 3),
            "cycle_p75": round(percentile(per, 75), 3),
        }
        if limit is not None:
            out["cycles_within"] = round(sum(r <= limit for r in per) / len(per), 3)
        return out

    def difference(self, name: str, against: str) -> dict[str, float]:
        """`name` minus `against` in µs: of their medians, and per cycle (median, quartiles)."""
        per = sorted(a - b for a, b in zip(self.chunks[name], self.chunks[against], strict=True))
        return {
            "us": round(self.summary(name)["median_us"] - self.summary(against)["median_us"], 2),
            "cycle_median_us": round(statistics.median(per), 2),
            "cycle_p25_us": round(percentile(per, 25), 2),
            "cycle_p75_us": round(percentile(per, 75), 2),
        }


def interleave(
    calls: dict[str, Call], cycles: int, chunk: int = 20, warmup: int = 20, settle: int = 5
) -> Interleaved:
    """Time `calls` in turn: `cycles` cycles, each running `chunk` timed calls of every
    contender (perf_counter_ns each), after `warmup` untimed calls of each up front.

    The order rotates every cycle, and reverses every pass through the contenders, so each
    contender runs in every position and after two different neighbours alike. Each chunk
    starts with `settle` untimed calls: after a switch the first few calls run on the caches
    the previous contender left behind (measured: the first +15% for raw onnxruntime, +25% for
    Slipway's handler, back to steady by the fifth), which would charge the bigger code more.
    """
    if cycles < 1 or chunk < 1:
        raise ValueError("cycles and chunk must be at least 1")
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    chunks: dict[str, list[float]] = {name: [] for name in names}
    now = time.perf_counter_ns
    for c in range(cycles):
        base = names if (c // len(names)) % 2 == 0 else names[::-1]
        shift = c % len(names)
        for name in base[shift:] + base[:shift]:
            fn = calls[name]
            for _ in range(settle):
                fn()
            got = []
            for _ in range(chunk):
                t = now()
                fn()
                got.append((now() - t) / 1000.0)
            samples[name] += got
            chunks[name].append(statistics.median(got))
    return Interleaved(samples, chunks, chunk)


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
    out["naive FastAPI+Mangum"] = lambda: ok(naive(event, ctx))

    from functions.flask_api.app import create_app
    from functions.flask_api.wsgi_lambda import make_handler
    from functions.predict.config import Settings
    from functions.predict.service import PredictionService

    service = PredictionService.from_settings(
        Settings.from_mapping(function_env(model, store_root))
    )
    flask = make_handler(create_app(service), service.model_headers)
    out["Flask serverless-wsgi"] = lambda: ok(flask(event, ctx))
    return out


def slipway_handler(model: BenchModel, batch: int, store_root: str | None, **env: str) -> Call:
    """Slipway's handler in process with `env` over the defaults (e.g. SLIPWAY_METRICS="off")."""
    from functions.predict.runtime import build

    event, ctx = v2_event(body(model.rows, batch)), context()
    slipway = build({**function_env(model, store_root), **env})
    return lambda: ok(slipway(event, ctx))


def hotpath_contenders(model: BenchModel, batch: int, store_root: str | None) -> dict[str, Call]:
    """The limit handler and Slipway's OIP handlers (issue 14), beside `contenders`."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(model.path), opts, providers=["CPUExecutionProvider"])
    limit, event, ctx = limit_handler(sess), v2_event(body(model.rows, batch)), context()
    return {"limit handler": lambda: ok(limit(event, ctx))} | oip_handlers(model, batch, store_root)


def limit_handler(sess: Any) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The bare handler: orjson parse, onnxruntime run, orjson serialize; nothing else.

    No check, log, metric or error mapping: the floor any JSON handler stands on.
    """
    import base64

    import orjson

    name = sess.get_inputs()[0].name
    outputs = [o.name for o in sess.get_outputs()]
    headers = {"content-type": "application/json"}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = event["body"]
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body)
        x = np.asarray(orjson.loads(body)["inputs"], dtype=np.float32)
        out = dict(zip(outputs, sess.run(None, {name: x}), strict=True))
        text = orjson.dumps({"outputs": out}, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        return {"statusCode": 200, "headers": headers, "body": text, "isBase64Encoded": False}

    return handler


def oip_events(model: BenchModel, batch: int) -> dict[str, dict[str, Any]]:
    """POST /v2/models/NAME/infer events: JSON tensors, and binary tensors as tritonclient
    sends them (base64 in the event, as API Gateway passes a binary body), binary outputs."""
    import orjson

    from infra.events import http_api_v2

    x = np.ascontiguousarray(model.rows[np.arange(batch) % len(model.rows)], dtype=np.float32)
    path = f"/v2/models/{model.ref.split('@')[0]}/infer"
    tensor = {"name": "input", "shape": list(x.shape), "datatype": "FP32"}
    as_json = orjson.dumps({"inputs": [{**tensor, "data": x.tolist()}]})
    header = orjson.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": x.nbytes}}],
            "parameters": {"binary_data_output": True},
        }
    )
    json_event = http_api_v2(
        "POST", path, body=as_json, headers={"content-type": "application/json"}
    )
    binary_event = http_api_v2(
        "POST",
        path,
        body=header + x.tobytes(),
        headers={
            "content-type": "application/octet-stream",
            "inference-header-content-length": str(len(header)),
        },
    )
    return {"OIP JSON": json_event, "OIP binary": binary_event}


def oip_handlers(model: BenchModel, batch: int, store_root: str | None) -> dict[str, Call]:
    """Slipway's handler on the Open Inference Protocol, JSON and binary tensors."""
    from functions.predict.runtime import build

    slipway, ctx = build(function_env(model, store_root)), context()

    def call(event: dict[str, Any]) -> Call:
        return lambda: ok(slipway(event, ctx))

    return {f"slipway {label}": call(event) for label, event in oip_events(model, batch).items()}


def served(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], ctx: Any
) -> Call:
    """One call of a handler on `event`, failing the benchmark on any answer but a 200."""
    return lambda: ok(handler(event, ctx))


def ok(response: dict[str, Any]) -> dict[str, Any]:
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
