"""A MiniLM-sized sentence-embedding model served by Slipway (float and int8) against the
transformers pipeline and sentence-transformers' encode on PyTorch (issue 25).

    .venv/bin/python -m bench text [--iterations 60] [--chunk 5] [--json PATH]

The model: a sentence-transformers directory with all-MiniLM-L6-v2's shape (BERT, 6 layers,
hidden 384, 12 heads, 30522 embeddings, mean pooling, Normalize), random weights and a
WordPiece tokenizer trained here (model_store/example_text.py): nothing is downloaded. It is
registered twice, float32 and `--quantize int8`. For texts of 32 and 128 tokens at batch 1
and 8, four contenders are timed in one interleaved session (bench/inprocess.interleave):
Slipway's handler in process (a Hugging Face request `{"inputs": …}` to POST /predict, through
the tokenizer, onnxruntime and pooling, JSON answer) with the float and the int8 model,
transformers' feature-extraction pipeline (`return_tensors=True`), and
sentence-transformers' `encode`. Everything runs on one thread (torch.set_num_threads(1),
SLIPWAY_ORT_THREADS=1), as a Lambda function of up to 1,769 MB has one vCPU. Cold start: a
fresh process that builds the handler (imports, model and tokenizer from the store, the
warm-up request) and answers one request, per model; and the bytes the layer and the model
add. And the float32 floor (bench/floor.py): the model's matrix products at onnxruntime's own
MatMul rate on this core, against the pipeline's time. Writes bench/results/text.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from bench import floor, inprocess

REPO = Path(__file__).resolve().parents[1]
TOKENS = (32, 128)
BATCHES = (1, 8)
TARGET = 0.6  # Slipway float at batch 1: at most this times the transformers pipeline's time
COLD_RUNS = 3


def ensure(root: Path) -> dict[str, Any]:
    """Build the MiniLM-sized directory and register it in float32 and int8."""
    from model_store import example_text
    from model_store.api import register

    directory = example_text.minilm(root / "minilm")
    store = root / "store"
    models = {}
    for precision, quantize in (("float32", None), ("int8", "int8")):
        done = register(directory, name=f"minilm-{precision}", sample=example_text.sample_texts(),
                        store=store, quantize=quantize)  # fmt: skip
        models[precision] = done.manifest
    return {"directory": directory, "store": store, "models": models}


def texts_of(directory: Path, tokens: int, batch: int) -> list[str]:
    from tokenizers import Tokenizer

    from model_store.example_text import text_of_tokens

    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    return [text_of_tokens(tokenizer, tokens, seed=i) for i in range(batch)]


def contenders(built: dict[str, Any], texts: list[str]) -> dict[str, inprocess.Call]:
    import orjson
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import pipeline

    from functions.predict.runtime import build

    torch.set_num_threads(1)
    body = {"inputs": texts[0] if len(texts) == 1 else texts}
    event = inprocess.v2_event(orjson.dumps(body))
    ctx = inprocess.context()
    calls: dict[str, inprocess.Call] = {}
    for precision, manifest in built["models"].items():
        handler = build({"SLIPWAY_MODEL": manifest.ref, "SLIPWAY_STORE": str(built["store"])})
        calls[f"slipway {precision}"] = inprocess.served(handler, event, ctx)
    extract = pipeline("feature-extraction", model=str(built["directory"]), device="cpu")
    calls["transformers pipeline"] = lambda: extract(texts, return_tensors=True)
    encoder = SentenceTransformer(str(built["directory"]), device="cpu")
    calls["sentence-transformers encode"] = lambda: encoder.encode(texts, batch_size=len(texts))
    return calls


def measure(built: dict[str, Any], iterations: int, chunk: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cycles = max(1, math.ceil(iterations / chunk))
    for tokens in TOKENS:
        for batch in BATCHES:
            texts = texts_of(built["directory"], tokens, batch)
            print(f"timing {tokens} tokens, batch {batch}…", flush=True)
            with inprocess.quiet_stdout():
                session = inprocess.interleave(contenders(built, texts), cycles, chunk, warmup=5)
            figures = {name: session.summary(name) for name in session.samples}
            ratios = {
                name: session.ratio(name, "transformers pipeline")
                for name in session.samples
                if name != "transformers pipeline"
            }
            out[f"{tokens}x{batch}"] = {
                "tokens": tokens,
                "batch": batch,
                "contenders": figures,
                "over_transformers_pipeline": ratios,
            }
    return out


_COLD = """
import sys, time
start = time.perf_counter()
from functions.predict.runtime import build
from bench import inprocess
handler = build({"SLIPWAY_MODEL": sys.argv[1], "SLIPWAY_STORE": sys.argv[2], "SLIPWAY_METRICS": "off"})
ready = time.perf_counter()
response = handler(inprocess.v2_event(b'{"inputs": "a first request"}'), inprocess.context())
assert response["statusCode"] == 200, response
done = time.perf_counter()
print(ready - start, done - start)
"""


def cold_start(built: dict[str, Any]) -> dict[str, Any]:
    """Fresh processes: handler built (imports, model, tokenizer, warm-up) and first answer."""
    out: dict[str, Any] = {}
    env = {**os.environ, "PYTHONPATH": str(REPO), "POWERTOOLS_LOG_LEVEL": "ERROR"}
    for precision, manifest in built["models"].items():
        inits, firsts = [], []
        for _ in range(COLD_RUNS):
            proc = subprocess.run(
                [sys.executable, "-c", _COLD, manifest.ref, str(built["store"])],
                capture_output=True, text=True, check=True, env=env, cwd=REPO,
            )  # fmt: skip
            init, first = (float(x) for x in proc.stdout.split()[-2:])
            inits.append(init * 1000)
            firsts.append(first * 1000)
        folder = built["store"] / manifest.name / str(manifest.version)
        out[precision] = {
            "init_ms": round(statistics.median(inits), 1),
            "first_answer_ms": round(statistics.median(firsts), 1),
            "model_bytes": (folder / "model.onnx").stat().st_size,
            "tokenizer_bytes": (folder / "tokenizer.json").stat().st_size,
        }
    out["imports"] = _import_ms()
    out["layer_added_bytes"] = _installed_bytes("tokenizers")
    return out


def _import_ms() -> dict[str, float]:
    """`import tokenizers` alone, in a fresh process (a text model's cold start pays it)."""
    code = "import time; t = time.perf_counter(); import tokenizers; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )  # fmt: skip
        for _ in range(COLD_RUNS)
    ]
    return {"tokenizers_ms": round(statistics.median(runs) * 1000, 1)}


def _installed_bytes(package: str) -> int:
    """What a package's files take installed (the runtime layer gains them)."""
    from importlib import metadata

    dist = metadata.distribution(package)
    return sum(
        (Path(str(dist.locate_file(f)))).stat().st_size
        for f in dist.files or []
        if not str(f).endswith(".pyc") and Path(str(dist.locate_file(f))).is_file()
    )


def _figure(f: dict[str, Any]) -> str:
    return f"{f['median_us'] / 1000:.2f} ({f['p25_us'] / 1000:.2f}-{f['p75_us'] / 1000:.2f})"


def table(results: dict[str, Any]) -> str:
    names = ["slipway float32", "slipway int8", "transformers pipeline", "sentence-transformers encode"]  # fmt: skip
    lines = [
        "MiniLM-sized sentence embeddings (6 layers, hidden 384, random weights), in process, one "
        f"thread, median ms of {results['iterations']} calls each (p25-p75), interleaved",
        "",
        "| tokens | batch | " + " | ".join(f"{n} ms" for n in names) + " | float/pipeline | int8/pipeline |",
        "| ---: | ---: | " + " | ".join("---:" for _ in names) + " | ---: | ---: |",
    ]  # fmt: skip
    for row in results["timings"].values():
        c, r = row["contenders"], row["over_transformers_pipeline"]
        cells = [_figure(c[n]) for n in names]
        cells += [f"{r['slipway float32']['ratio']:.2f}", f"{r['slipway int8']['ratio']:.2f}"]
        lines.append(f"| {row['tokens']} | {row['batch']} | {' | '.join(cells)} |")
    cold = results["cold_start"]
    lines += ["", "cold start, fresh process (median of 3): handler built (imports, model and "
              "tokenizer from the store, warm-up request) / first answer"]  # fmt: skip
    for precision in ("float32", "int8"):
        c = cold[precision]
        lines.append(
            f"- {precision}: {c['init_ms']:.0f} ms / {c['first_answer_ms']:.0f} ms; model.onnx "
            f"{c['model_bytes'] / 1e6:.1f} MB, tokenizer.json {c['tokenizer_bytes'] / 1e3:.0f} kB"
        )
    lines.append(
        f"- import tokenizers: {cold['imports']['tokenizers_ms']:.0f} ms; the runtime layer "
        f"gains tokenizers: {cold['layer_added_bytes'] / 1e6:.1f} MB installed"
    )
    fused = results.get("fusions", {})
    lines.append(
        "- the float graph's onnxruntime fusions: "
        + (", ".join(f"{k} {v}" for k, v in fused["fused"].items()) if "fused" in fused
           else f"none ({fused.get('skipped', 'not recorded')})")
        + "".join(f"; {k} x{v} split back (served unfused)" for k, v in fused.get("split", {}).items())
    )  # fmt: skip
    for tokens, f in results.get("float32_floor", {}).items():
        lines.append(
            f"- float32 floor at {tokens} tokens: {f['gflop']} GFLOP of matrix products at "
            f"onnxruntime's own MatMul rate on this core ({f['gemm_gflops']} GFLOP/s, one thread) "
            f"= {f['floor_ms']} ms, {f['over_transformers_pipeline']}x the pipeline's time"
        )
    verdict = results["target"]
    lines += ["", f"target: Slipway float at batch 1 at most {TARGET}x the transformers "
              f"pipeline's time: {verdict['ratios']} -> {'met' if verdict['met'] else 'NOT met'}"]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench text", description=__doc__)
    p.add_argument("--iterations", type=int, default=60, help="timed calls per contender")
    p.add_argument("--chunk", type=int, default=5, help="timed calls per turn")
    p.add_argument("--json", default=str(REPO / "bench" / "results" / "text.json"))
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="bench-text-") as tmp:
        print("building a MiniLM-sized model (random weights), registering float32 and int8…",
              flush=True)  # fmt: skip
        start = time.perf_counter()
        built = ensure(Path(tmp))
        timings = measure(built, args.iterations, args.chunk)
        print("cold starts…", flush=True)
        ratios = {
            key: row["over_transformers_pipeline"]["slipway float32"]["ratio"]
            for key, row in timings.items()
            if row["batch"] == 1
        }
        floors = floor.floor(json.loads((built["directory"] / "config.json").read_text()), TOKENS)
        for row in timings.values():
            if row["batch"] == 1:
                pipe = row["contenders"]["transformers pipeline"]["median_us"] / 1000
                floors[str(row["tokens"])]["over_transformers_pipeline"] = round(
                    floors[str(row["tokens"])]["floor_ms"] / pipe, 3
                )
        int8 = (built["models"]["int8"].parity.checks or {}).get("int8", {})
        fusions = (built["models"]["float32"].parity.checks or {}).get("fusions", {})
        results: dict[str, Any] = {
            "iterations": args.iterations,
            "chunk": args.chunk,
            "timings": timings,
            "cold_start": cold_start(built),
            "int8": int8,
            "fusions": fusions,
            "float32_floor": floors,
            "target": {"limit": TARGET, "ratios": ratios, "met": all(r <= TARGET for r in ratios.values())},
            "seconds": round(time.perf_counter() - start, 1),
        }  # fmt: skip
    js = Path(args.json)
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"wrote {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
