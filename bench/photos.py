"""Photos through an image model (issue 24): Slipway's preprocessing against the reference
pipeline (Pillow full decode + torchvision's transforms), in one interleaved session.

    .venv/bin/python -m bench photos [--cycles 12] [--chunk 3] [--json PATH] [--decoders DIR]

Two JPEGs made from scikit-learn's china.jpg (no download): 640x480 and a phone photo's
4000x3000, with luma noise (sigma 2) and quality 90, so the big one is ~2 bits a pixel as a
phone's is (an upscaled photo without noise compresses to a fraction of that and decodes
faster than any phone photo). The model is a small CNN at 224x224 with the imagenet preset,
exported by torch.onnx. Per photo, each stage is timed as its own contender:

    slipway decode        open, header checks, DCT-scaled JPEG decode (>= 2x 256), colour mode
    slipway preprocess    bytes -> model-ready tensor (decode + resize, crop, normalise)
    reference decode      Image.open(...).convert("RGB") (torchvision's pil_loader)
    reference preprocess  that + Resize(256), CenterCrop(224), ToTensor, Normalize
    model                 onnxruntime on the tensor
    processing + model    ImageInput.feeds + the session + top-5 labels + the JSON answer
    whole request         the Lambda handler (the dispatcher) on an HTTP API event carrying the
                          JPEG as API Gateway sends it (base64, Content-Type image/jpeg), the
                          model registered in a store as `slipway register` does

Target: slipway preprocess <= reference preprocess / 5 for the 4000x3000 photo, the top-1
class unchanged. --decoders DIR adds simplejpeg, PyTurboJPEG and OpenCV's decoders (installed
with pip --target DIR; not Slipway's dependencies) to the decode comparison.

Then cold starts, in fresh processes taking turns (bench/coldstart.py): the image example
(`slipway example --image`, a small CNN with its preprocessing, answering a JPEG) against the
digits example (`slipway example`, JSON rows), both by the handler from the built artifact
(function.zip + layer.zip, as Lambda runs it) or, without a build, from the source tree; and
`import PIL.Image` alone, which an image model's cold start pays. --cold-runs 0 skips them.
Writes bench/results/photos.json.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import inprocess

REPO = Path(__file__).resolve().parents[1]
SIZES = ((640, 480), (4000, 3000))
TARGET_RATIO = 5.0
LABELS = [f"class_{i}" for i in range(10)]
COLD_RUNS = 7
WITH_PIL = "digit-pictures, PIL.Image imported first"


def photo(width: int, height: int) -> bytes:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    base = Image.fromarray(load_sample_images().images[0])
    pixels = np.asarray(base.resize((width, height), Image.Resampling.BICUBIC), np.float32)
    noise = np.random.default_rng(0).normal(0, 2.0, (height, width, 1)).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def model() -> Any:
    """A small CNN at 224x224 registered with the imagenet preset (converted once)."""
    import torch

    from model_store.images.register import convert_image_model

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 16, len(LABELS)),
    ).eval()
    return net, convert_image_model(
        net,
        name="bench-photos",
        preprocess="imagenet",
        size=None,
        images_dir=None,
        labels=LABELS,
        output_names=None,
        atol=1e-4,
        rtol=1e-3,
        image_atol=None,
        opset=None,
        description="bench",
        say=lambda _m: None,
    )


def handler_request(converted: Any, data: bytes, store: Path) -> Callable[[], Any]:
    """The whole request: the Lambda handler, built from the store as at init, on an HTTP API
    event carrying the photo as API Gateway sends a binary body."""
    from functions.predict.runtime import build
    from infra.events import http_api_v2
    from model_store.backends.local import LocalStore

    local = LocalStore(store)
    if converted.manifest.name not in local.names():
        local.register(converted.data, converted.manifest, converted.assets)
    env = {"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": converted.manifest.name}
    with inprocess.quiet_stdout():
        handler = build({**env, "SLIPWAY_METRICS": "off", "SLIPWAY_ORT_THREADS": "1"})
    event = http_api_v2("POST", "/predict", body=data, headers={"content-type": "image/jpeg"})
    assert event["isBase64Encoded"]
    context = inprocess.context()

    def call() -> Any:
        response = handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"benchmark call failed: {str(response)[:300]}")
        return response

    return call


def contenders(
    data: bytes, converted: Any, decoders: dict[str, Callable[[bytes], Any]], store: Path
) -> dict[str, Callable[[], Any]]:
    import onnxruntime as ort
    import orjson
    from PIL import Image

    from functions.predict.config import Settings
    from functions.predict.processing.image import ImageInput, preprocess, to_mode
    from functions.predict.processing.image_decode import load, open_checked
    from functions.predict.processing.image_spec import ImageSpec
    from functions.predict.processing.labels import Classification
    from model_store.images.references import torchvision_pipeline

    manifest = converted.manifest
    spec = ImageSpec.from_dict(manifest.processing["input"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(converted.data, options, providers=["CPUExecutionProvider"])
    image_input = ImageInput(manifest.processing["input"], manifest, {}, Settings())
    labels = Classification(manifest.processing["output"], manifest)
    tensor = preprocess(data, spec, 80_000_000)[None]
    target = spec.resized(*Image.open(io.BytesIO(data)).size)

    def slipway_decode() -> Any:
        image, kind = open_checked(data, 80_000_000)
        return to_mode(load(image, kind, target), spec)

    def pillow_draft() -> Any:  # Pillow's reduced-scale decode alone, as the others below
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (512, 512))
        image.load()
        return image

    def request() -> bytes:
        feeds = image_input.feeds([data], {})
        results = session.run(None, feeds)
        return orjson.dumps(labels.answer(results, feeds, {})[0])

    calls: dict[str, Callable[[], Any]] = {
        "slipway decode": slipway_decode,
        "slipway preprocess": lambda: preprocess(data, spec, 80_000_000),
        "reference decode": lambda: Image.open(io.BytesIO(data)).convert("RGB"),
        "reference preprocess": lambda: torchvision_pipeline(spec, Image.open(io.BytesIO(data))),
        "model": lambda: session.run(None, {spec.name: tensor}),
        "processing + model": request,
        "whole request": handler_request(converted, data, store),
    }
    if decoders:
        calls["pillow decode"] = pillow_draft
    for name, decode in decoders.items():
        calls[f"{name} decode"] = lambda d=decode: d(data)  # type: ignore[misc]
    return calls


def other_decoders(where: str | None) -> dict[str, Callable[[bytes], Any]]:
    """Decoders measured for the choice, at the same reduced scale as Pillow's draft (1/4)."""
    if not where:
        return {}
    sys.path.extend(where.split(":"))
    found: dict[str, Callable[[bytes], Any]] = {}
    try:
        import simplejpeg

        found["simplejpeg"] = lambda d: simplejpeg.decode_jpeg(d, min_height=512, min_width=512)
    except ImportError:
        pass
    try:
        import cv2

        cv2.setNumThreads(1)
        flag = cv2.IMREAD_REDUCED_COLOR_4
        found["opencv"] = lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), flag)
    except ImportError:
        pass
    try:
        from turbojpeg import TurboJPEG

        turbo = TurboJPEG()
        found["pyturbojpeg"] = lambda d: turbo.decode(d, scaling_factor=(1, 4))
    except (ImportError, RuntimeError, OSError):
        pass
    return found


def top1(converted: Any, net: Any, photos: list[bytes]) -> dict[str, Any]:
    """The model's top-1 on Slipway's tensor and on the reference's, per photo."""
    from functions.predict.processing.image import preprocess
    from functions.predict.processing.image_spec import ImageSpec
    from model_store.convert.parity import run_onnx
    from model_store.images import resolve
    from model_store.images.references import reference

    spec = ImageSpec.from_dict(converted.manifest.processing["input"])
    prep = resolve("imagenet")
    ours = np.stack([preprocess(p, spec, 80_000_000) for p in photos])
    refs = np.stack([reference(prep, spec, p)["tensor"] for p in photos])
    out = converted.manifest.outputs[0].name
    a = run_onnx(converted.data, {spec.name: ours})[out]
    b = run_onnx(converted.data, {spec.name: refs})[out]
    return {
        "photos": len(photos),
        "same_top1": int((a.argmax(1) == b.argmax(1)).sum()),
        "max_abs_logit_diff": float(np.abs(a - b).max()),
        "max_abs_tensor_diff": float(np.abs(ours - refs).max()),
    }


def digit_jpeg() -> bytes:
    """A seven from scikit-learn's digits, drawn as the image example's pictures, as a JPEG."""
    from PIL import Image

    from model_store.example_image import pictures

    images, classes = pictures()
    seven = next(i for i, c in enumerate(classes) if c == 7)
    out = io.BytesIO()
    Image.open(io.BytesIO(images[seven])).convert("L").save(out, "JPEG", quality=90)
    return out.getvalue()


def cold_starts(root: Path, runs: int) -> dict[str, Any]:
    """Fresh processes, taking turns: the image example against the digits example (each
    imports the runtime, loads its model and answers one request), and `import PIL.Image`."""
    from bench import coldstart
    from bench.artifact import HANDLER, unpack_built
    from bench.tabular import RUNTIME
    from bench.targets import Unavailable
    from infra.events import http_api_v2
    from model_store import example, example_image
    from model_store.backends.local import LocalStore

    store = root / "examples"
    local = LocalStore(store)
    print("training the examples (digits; digit pictures, a minute or two)…", flush=True)
    with inprocess.quiet_stdout():
        example.build_and_register(local)
        example_image.build_and_register(local)
    digits = local.manifest("digits")
    try:
        paths, variant = unpack_built(root / "artifact"), "built artifact"
    except Unavailable as exc:
        paths, variant = [str(REPO), *coldstart.site_packages()], f"source tree ({exc})"
    requests = {
        "digits": inprocess.v2_event(json.dumps(digits.example).encode()),
        "digit-pictures": http_api_v2(
            "POST", "/predict", body=digit_jpeg(), headers={"content-type": "image/jpeg"}
        ),
    }
    scripts = {
        name: coldstart.handler_script(paths, HANDLER, event, RUNTIME)
        for name, event in requests.items()
    }
    # The same cold start with Pillow imported among the runtime's imports: what it costs.
    scripts[WITH_PIL] = coldstart.handler_script(
        paths, HANDLER, requests["digit-pictures"], (*RUNTIME, "PIL.Image")
    )
    print(f"cold starts ({variant}), {runs} of each, taking turns…", flush=True)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in scripts}
    for turn in range(runs + 1):  # turn 0 warms the file cache and is not kept
        for name, script in scripts.items():
            model = "digit-pictures" if name == WITH_PIL else name
            env = coldstart.base_env({"SLIPWAY_MODEL": f"{model}@1", "SLIPWAY_STORE": str(store)})
            sample = coldstart.run_once(script, env)
            if turn:
                samples[name].append(sample)
    out: dict[str, Any] = {"variant": variant, "runs": runs}
    for name, rows in samples.items():
        out[name] = {
            key: round(statistics.median(r[key] for r in rows), 1)
            for key in ("wall_ms", "imports_ms", "init_ms", "first_ms")
        }
        out[name]["max_rss_mb"] = round(max(r["rss_mb"] for r in rows), 1)
    image, tabular = out["digit-pictures"], out["digits"]
    out["image_over_digits_ms"] = {
        key: round(image[key] - tabular[key], 1) for key in ("wall_ms", "init_ms", "first_ms")
    }
    out["pil_import_ms"] = round(out[WITH_PIL]["imports_ms"] - image["imports_ms"], 1)
    return out


def report(results: dict[str, Any]) -> str:
    lines = []
    for size, r in results["photos"].items():
        lines.append(f"\n{size} JPEG, {r['bytes'] / 1e6:.2f} MB (median ms, interleaved)")
        for name, s in r["stages"].items():
            lines.append(f"  {name:<22} {s['median_us'] / 1000:8.2f}")
        lines.append(
            f"  reference / slipway preprocess: {r['speedup']['ratio']:.2f}x "
            f"(per cycle {r['speedup']['cycle_p25']:.2f}-{r['speedup']['cycle_p75']:.2f})"
        )
    t = results["top1"]
    lines.append(
        f"\ntop-1 unchanged on {t['same_top1']}/{t['photos']} photos; target "
        f"{TARGET_RATIO:.0f}x on 4000x3000: {'met' if results['met'] else 'NOT met'}"
    )
    cold = results.get("cold_start")
    if cold:
        lines.append(
            f"\ncold start, {cold['variant']}, median of {cold['runs']} fresh processes each "
            "(ms: spawn to exit / runtime imports / init: imports + model / first answer; MB)"
        )
        for name in ("digits", "digit-pictures", WITH_PIL):
            c = cold[name]
            lines.append(
                f"  {name:<40} {c['wall_ms']:7.0f} {c['imports_ms']:7.0f} {c['init_ms']:7.0f} "
                f"{c['first_ms']:7.1f} {c['max_rss_mb']:6.0f}"
            )
        d = cold["image_over_digits_ms"]
        lines.append(
            f"  the image example over digits: {d['wall_ms']:+.0f} ms in all, init "
            f"{d['init_ms']:+.0f} ms, first answer {d['first_ms']:+.1f} ms; "
            f"import PIL.Image {cold['pil_import_ms']:.0f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench photos")
    p.add_argument("--cycles", type=int, default=12)
    p.add_argument("--chunk", type=int, default=3)
    p.add_argument(
        "--decoders", help="a pip --target directory with simplejpeg, PyTurboJPEG, OpenCV"
    )
    p.add_argument("--cold-runs", type=int, default=COLD_RUNS, help="fresh processes each")
    p.add_argument("--json", default=str(REPO / "bench" / "results" / "photos.json"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as onnxruntime and Pillow here: one core each, like Lambda's
    print("converting the model…", flush=True)
    net, converted = model()
    decoders = other_decoders(args.decoders)
    results: dict[str, Any] = {"photos": {}, "target_ratio": TARGET_RATIO}
    photos = []
    with tempfile.TemporaryDirectory(prefix="bench-photos-") as tmp:
        for width, height in SIZES:
            data = photo(width, height)
            photos.append(data)
            print(f"timing {width}x{height} ({len(data)} bytes), interleaved…", flush=True)
            calls = contenders(data, converted, decoders if width > 1000 else {}, Path(tmp))
            session = inprocess.interleave(calls, args.cycles, args.chunk, warmup=2, settle=1)
            stages = {name: session.summary(name) for name in session.samples}
            ratio = session.ratio("reference preprocess", "slipway preprocess")
            results["photos"][f"{width}x{height}"] = {
                "bytes": len(data),
                "stages": stages,
                "speedup": ratio,
            }
        if args.cold_runs:
            results["cold_start"] = cold_starts(Path(tmp), args.cold_runs)
    from sklearn.datasets import load_sample_images

    photos += [Path(f).read_bytes() for f in load_sample_images().filenames]
    results["top1"] = top1(converted, net, photos)
    big = results["photos"]["4000x3000"]["speedup"]["ratio"]
    results["met"] = bool(big >= TARGET_RATIO and results["top1"]["same_top1"] == len(photos))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    return 0
