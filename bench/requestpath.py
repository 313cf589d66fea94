"""`python -m bench.requestpath`: the modules one request passes through, and how often it
comes back to one it had left.

    .venv/bin/python -m bench.requestpath [--store DIR] [--batch 1] [--what predict|instances|oip]

One warm `POST /predict` (or a binary OIP infer) through an HTTP API v2 event, traced with
`sys.setprofile`: every call and return of a Python function in the project's own packages
(functions, model_store). The sequence of modules the request is in, consecutive repeats
folded, says which modules it passes through; an entry into a module it was in before is a
return to a module already left. C functions (numpy, orjson, onnxruntime) are not Python
frames and do not count; library Python frames (powertools) and code generated at run time
(a dataclass's __init__) are skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from types import FrameType
from typing import Any

import orjson

from bench import inprocess, models

PROJECT = ("functions.", "model_store.")


@dataclass(frozen=True)
class Path:
    calls: int  # project function calls
    sequence: tuple[str, ...]  # modules, consecutive repeats folded

    @property
    def entries(self) -> Counter[str]:
        return Counter(self.sequence)

    @property
    def returns(self) -> int:
        """Entries into a module the request had already been in and left."""
        return len(self.sequence) - len(self.entries)


def trace(call: Any) -> Path:
    """Run `call` once under a profiler hook; the project modules it passes through."""
    stack: list[str] = []
    sequence: list[str] = []
    calls = 0

    def now(module: str) -> None:
        if not sequence or sequence[-1] != module:
            sequence.append(module)

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event not in ("call", "return"):
            return
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(PROJECT) or frame.f_code.co_filename == "<string>":
            return  # a library's frame, or code generated at run time (a dataclass's __init__)
        if event == "call":
            calls += 1
            stack.append(module)
            now(module)
        elif stack:
            stack.pop()
            if stack:
                now(stack[-1])

    sys.setprofile(hook)
    try:
        call()
    finally:
        sys.setprofile(None)
    return Path(calls, tuple(sequence))


def request(model: models.BenchModel, store: str, what: str, batch: int) -> Any:
    """The warm handler call for one request (called once before it is traced)."""
    from functions.predict.runtime import build

    fn, ctx = build(inprocess.function_env(model, store)), inprocess.context()
    if what == "predict":
        event = inprocess.v2_event(models.body(model.rows, batch))
    elif what == "instances":  # row records: the general path's form
        rows = model.rows[:batch].tolist()
        event = inprocess.v2_event(orjson.dumps({"instances": rows}))
    else:
        event = inprocess.oip_events(model, batch)["OIP binary"]

    def call() -> Any:
        result = fn(event, ctx)
        if result["statusCode"] != 200:
            raise RuntimeError(str(result)[:300])
        return result

    call()
    return call


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.requestpath", description=__doc__)
    p.add_argument("--store")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--what", choices=("predict", "instances", "oip"), default="predict")
    args = p.parse_args(argv)
    from model_store.backends.local import LocalStore

    store = str(LocalStore(args.store).root.resolve())
    with inprocess.quiet_stdout():
        example = models.ensure(store)[0]
        path = trace(request(example, store, args.what, args.batch))
    print(
        f"{args.what}, batch {args.batch}, HTTP API v2 event: {path.calls} project calls, "
        f"{len(path.entries)} modules, {path.returns} returns to a module already left"
    )
    print("entries per module: " + ", ".join(f"{m} {n}" for m, n in path.entries.most_common()))
    print("path: " + " > ".join(m.rpartition(".")[2] for m in path.sequence))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
