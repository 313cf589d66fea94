"""Image models for the front-end tests (issue 24): the PyTorch CNN (imagenet preset), the
Keras CNN (keras:caffe) and the Hugging Face-style ViT (preprocessor_config.json + config.json
with id2label) of tests/model_store/test_images.py, registered in one local store, each with
the scores its original framework gives on its reference preprocessing for every photo variant
(scikit-learn's two photographs in each form the issue names).

A front end's answer is checked against those scores within the tolerance the registration
recorded (`parity.checks.images.atol`): `check_answer`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.photos import photos, variants

# The variants the issue names (tests/model_store/test_images.py's VARIANTS).
VARIANTS = ("jpeg", "png", "webp", "exif-rotated", "grayscale", "cmyk", "palette-transparent")
LABELS = ("cat", "dog", "fish", "bird", "horse")


@dataclass
class ImageModel:
    """A registered image model and what its framework answers for each photo variant."""

    name: str  # registered as NAME@1
    framework: str
    labels: tuple[str, ...]
    atol: float  # the registration's recorded image tolerance
    function: str  # function_to_apply: the scores of the answer are the outputs after it
    input_name: str  # the ONNX input the processing feeds
    reference: dict[str, np.ndarray] = field(default_factory=dict)  # item key -> scores

    @property
    def ref(self) -> str:
        return f"{self.name}@1"


@dataclass
class ImageModels:
    store: Path
    models: dict[str, ImageModel]  # by framework: "pytorch", "keras", "huggingface"
    items: dict[str, bytes]  # "0-jpeg", "1-cmyk", …: photo index and variant


def items() -> dict[str, bytes]:
    """Every variant of both photos, keyed "<photo>-<variant>"."""
    out = {}
    for i, pixels in enumerate(photos()):
        forms = variants(pixels)
        out.update({f"{i}-{v}": forms[v] for v in VARIANTS})
    return out


def build(root: Path) -> ImageModels:
    """Register the three models in ROOT/store (torch, keras and transformers: a minute or
    so) and compute their reference scores."""
    import torch

    from functions.predict.processing.image_spec import ImageSpec
    from functions.predict.processing.labels import apply
    from model_store.api import register
    from model_store.images import read_labels, resolve
    from model_store.images.parity import run_original
    from model_store.images.references import reference
    from tests.model_store.test_images import hf_vit, keras_cnn, torch_cnn

    torch.set_num_threads(1)
    store = root / "store"
    vit_dir = root / "vit"
    vit_dir.mkdir(parents=True)
    made: dict[str, tuple[Any, str | Path, int | None, tuple[str, ...]]] = {
        "pytorch": (torch_cnn(), "imagenet", 64, LABELS),
        "keras": (keras_cnn(32), "keras:caffe", 32, LABELS),
        "huggingface": (
            hf_vit(vit_dir),
            vit_dir / "preprocessor_config.json",
            None,
            tuple(read_labels(vit_dir / "config.json")),
        ),
    }
    photo_items = items()
    keys = list(photo_items)
    models = {}
    for framework, (net, preprocess, size, labels) in made.items():
        name = f"photos-{framework}"
        done = register(
            net, name=name, store=store, preprocess=preprocess, size=size, labels=labels
        )
        manifest = done.manifest
        processing = manifest.processing
        assert processing is not None and manifest.parity is not None
        spec = ImageSpec.from_dict(processing["input"])
        prep = resolve(preprocess, size)
        batch = np.stack([reference(prep, spec, photo_items[k])["tensor"] for k in keys])
        function = processing["output"]["function_to_apply"]
        scores = apply(function, np.asarray(run_original(net, batch), np.float64))
        models[framework] = ImageModel(
            name=name,
            framework=framework,
            labels=tuple(str(x) for x in labels),
            atol=float((manifest.parity.checks or {})["images"]["atol"]),
            function=function,
            input_name=spec.name,
            reference=dict(zip(keys, scores, strict=True)),
        )
    return ImageModels(store, models, photo_items)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check_answer(model: ImageModel, keys: list[str], body: Any, single: bool, top_k: int) -> None:
    """A classification answer (`[{"label", "score"}]` per image; unwrapped for one image sent
    alone) against the framework's scores for the images `keys`, within the recorded
    tolerance: the labels best first, as many as asked, each score the reference's."""
    answers = [body] if single else body
    assert isinstance(answers, list) and len(answers) == len(keys), str(body)[:300]
    for key, answer in zip(keys, answers, strict=True):
        want = model.reference[key]
        assert isinstance(answer, list) and len(answer) == min(top_k, len(model.labels)), answer
        assert answer[0]["label"] == model.labels[int(want.argmax())], (key, answer, want)
        scores = [a["score"] for a in answer]
        assert scores == sorted(scores, reverse=True), (key, answer)
        for a in answer:
            index = model.labels.index(a["label"])
            assert abs(a["score"] - want[index]) <= model.atol, (key, a, want, model.atol)


def check_raw(model: ImageModel, keys: list[str], logits: Any) -> None:
    """The model's raw outputs (OIP, or `parameters.raw`) against the framework's scores."""
    from functions.predict.processing.labels import apply

    got = apply(model.function, np.asarray(logits, np.float64).reshape(len(keys), -1))
    want = np.stack([model.reference[k] for k in keys])
    assert np.abs(got - want).max() <= model.atol, (keys, np.abs(got - want).max(axis=1))


def oip_json(keys: list[str], photo_items: dict[str, bytes]) -> bytes:
    """An Open Inference Protocol request with the images as one BYTES input, base64 in JSON."""
    data = [b64(photo_items[k]) for k in keys]
    tensor = {"name": "image", "shape": [len(keys)], "datatype": "BYTES", "data": data}
    return json.dumps({"inputs": [tensor]}).encode()


@dataclass(frozen=True)
class Form:
    """One request form of POST /predict (or the OIP's infer) carrying some photo variants."""

    name: str
    keys: tuple[str, ...]  # the items it carries, in order
    single: bool = False  # one image sent alone: the answer is unwrapped
    top_k: int = 5
    raw: bool = False  # the answer is the model's outputs (OIP, parameters.raw)

    def path(self, model: ImageModel) -> str:
        return f"/v2/models/{model.name}/infer" if self.name == "oip-json" else "/predict"

    def request(self, photo_items: dict[str, bytes]) -> tuple[bytes, dict[str, str]]:
        """The body and headers as the form's clients send them."""
        data = [photo_items[k] for k in self.keys]
        kind, _, media = self.name.partition(":")
        if kind == "raw":  # one image as the body; "raw:" alone sends no Content-Type
            return data[0], {"content-type": media} if media else {}
        if kind == "multipart":  # as curl -F, requests and httpx encode a form
            import httpx

            from functions.predict.media import image_type

            files = [
                ("image", (f"{k}.img", d, image_type(d) or "application/octet-stream"))
                for k, d in zip(self.keys, data, strict=True)
            ]
            request = httpx.Request("POST", "http://x/predict", files=files)
            return request.read(), {"content-type": request.headers["content-type"]}
        if kind == "tf":  # TF Serving's instances, bare or under the input's name
            named = media == "named"
            rows = [{"image": {"b64": b64(d)}} if named else {"b64": b64(d)} for d in data]
            return json.dumps({"instances": rows}).encode(), {"content-type": "application/json"}
        if kind == "hf":  # Hugging Face's: a string alone (InferenceClient, no Content-Type)
            if self.single:
                body = {"inputs": b64(data[0]), "parameters": {"top_k": self.top_k}}
                return json.dumps(body).encode(), {}
            body = {"inputs": [b64(d) for d in data]}
            if self.raw:
                body["parameters"] = {"raw": True}
            return json.dumps(body).encode(), {"content-type": "application/json"}
        if kind == "oip-json":
            return oip_json(list(self.keys), photo_items), {"content-type": "application/json"}
        raise AssertionError(f"no form {self.name}")


ALL = tuple(f"{p}-{v}" for p in (0, 1) for v in VARIANTS)
FORMS = (
    Form("raw:image/jpeg", ("0-jpeg",), single=True),
    Form("raw:image/jpeg", ("1-cmyk",), single=True),
    Form("raw:image/jpeg", ("0-exif-rotated",), single=True),
    Form("raw:image/png", ("1-png",), single=True),
    Form("raw:image/png", ("0-palette-transparent",), single=True),
    Form("raw:image/webp", ("1-webp",), single=True),
    Form("raw:", ("1-jpeg",), single=True),  # no Content-Type: InferenceClient's raw bytes
    Form("raw:", ("0-png",), single=True),
    Form("raw:application/octet-stream", ("0-grayscale",), single=True),
    Form("raw:application/octet-stream", ("1-exif-rotated",), single=True),
    Form("multipart", ("1-jpeg",)),
    Form("multipart", ALL),
    Form("tf:b64", ALL),
    Form("tf:named", ALL),
    Form("hf", ("0-jpeg",), single=True, top_k=3),
    Form("hf", ("1-webp",), single=True, top_k=1),
    Form("hf", ALL),
    Form("hf", ALL, raw=True),
    Form("oip-json", ALL, raw=True),
)


def form_id(form: Form) -> str:
    extra = "-raw" if form.raw and form.name == "hf" else ""
    return f"{form.name}{extra}[{form.keys[0] if len(form.keys) == 1 else len(form.keys)}]"


def check(model: ImageModel, form: Form, status: int, body: Any) -> None:
    """A front end's answer to `form` against the framework's scores."""
    assert status == 200, str(body)[:500]
    if form.name == "oip-json":
        (output,) = body["outputs"]
        check_raw(model, list(form.keys), output["data"])
    elif form.raw:  # the scores tensor, and the classifier's label of each row
        outputs = dict(body["outputs"])
        labels = outputs.pop("label")
        (scores,) = outputs.values()
        check_raw(model, list(form.keys), scores)
        want = [model.labels[int(model.reference[k].argmax())] for k in form.keys]
        assert labels == want, (labels, want)
    else:
        check_answer(model, list(form.keys), body, form.single, form.top_k)
