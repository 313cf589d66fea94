"""Image models registered with their preprocessing (issue 24): a PyTorch CNN (imagenet
preset), a Keras CNN (keras:caffe and keras:tf presets) and a Hugging Face-style ViT
(preprocessor_config.json + config.json with id2label). Served by Slipway's own processing
(ImageInput, labels), their scores equal the original framework's on its reference
preprocessing within the recorded tolerance, on scikit-learn's two photographs and on
variants made from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.predict.config import Settings
from functions.predict.processing.image import ImageInput
from functions.predict.processing.image_spec import ImageSpec
from functions.predict.processing.labels import Classification, apply
from model_store.exceptions import ConversionError, ParityError
from model_store.images import read_labels
from model_store.images.parity import run_original
from model_store.images.references import reference
from model_store.images.register import convert_image_model
from tests.photos import photos, variants

pytestmark = pytest.mark.integration  # torch, keras and transformers conversions: seconds each

# The variants the issue names; 16-bit and RGBA are served too, but the frameworks' own
# loaders clip 16-bit samples (Pillow's convert), so they have no reference to equal.
VARIANTS = ("jpeg", "png", "webp", "exif-rotated", "grayscale", "cmyk", "palette-transparent")
LABELS = ("cat", "dog", "fish", "bird", "horse")


def torch_cnn(classes: int = 5) -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 16, classes),
    ).eval()


def keras_cnn(size: int, classes: int = 5) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Rescaling(1 / 128.0),  # caffe's inputs are ~±128
            keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )


def register(model: Any, preprocess: Any, **options: Any) -> Any:
    settings: dict[str, Any] = {
        "name": "photos",
        "size": None,
        "images_dir": None,
        "labels": LABELS,
        "output_names": None,
        "atol": 1e-4,
        "rtol": 1e-3,
        "image_atol": None,
        "opset": None,
        "description": "",
        "say": lambda _m: None,
    }
    return convert_image_model(model, preprocess=preprocess, **(settings | options))


def served_scores(converted: Any, items: list[bytes]) -> tuple[np.ndarray, list[Any]]:
    """Scores and answers as the function computes them: ImageInput, the session, labels."""
    import onnxruntime as ort

    manifest = converted.manifest
    processing = manifest.processing
    made = ImageInput(processing["input"], manifest, {}, Settings())
    feeds = made.feeds(items, {})
    session = ort.InferenceSession(converted.data, providers=["CPUExecutionProvider"])
    results = session.run(None, feeds)
    answers = Classification(processing["output"], manifest).answer(results, feeds, {"top_k": 3})
    function = processing["output"]["function_to_apply"]
    return apply(function, np.asarray(results[0], np.float64)), answers


def reference_scores(model: Any, converted: Any, prep: Any, items: list[bytes]) -> np.ndarray:
    spec = ImageSpec.from_dict(converted.manifest.processing["input"])
    batch = np.stack([reference(prep, spec, data)["tensor"] for data in items])
    function = converted.manifest.processing["output"]["function_to_apply"]
    return apply(function, np.asarray(run_original(model, batch), np.float64))


def assert_served_like_the_framework(
    model: Any, converted: Any, preprocess: Any, size: int | None = None
) -> None:
    from model_store.images import resolve

    prep = resolve(preprocess, size)
    record = converted.manifest.parity.checks["images"]
    assert record["top1_agree"] == record["images"] == 2
    for pixels in photos():
        forms = variants(pixels)
        items = [forms[v] for v in VARIANTS]
        got, answers = served_scores(converted, items)
        want = reference_scores(model, converted, prep, items)
        assert np.abs(got - want).max() <= record["atol"], (
            np.abs(got - want).max(axis=1),
            VARIANTS,
        )
        assert (got.argmax(axis=1) == want.argmax(axis=1)).all()
        for row, answer in zip(got, answers, strict=True):
            assert (
                answer[0]["label"] == LABELS[int(row.argmax())] if len(row) == len(LABELS) else True
            )
            assert abs(answer[0]["score"] - row.max()) < 1e-6


def test_pytorch_imagenet_preset(tmp_path: Path) -> None:
    model = torch_cnn()
    converted = register(model, "imagenet", size=64)
    manifest = converted.manifest
    assert manifest.outputs[0].name == "logits" and manifest.labels == LABELS
    spec = manifest.processing["input"]
    assert spec["resize"] == {"shortest_edge": 73} and spec["crop"] == {"height": 64, "width": 64}
    assert manifest.processing["output"]["function_to_apply"] == "softmax"
    assert manifest.parity.checks["images"]["reference"] == "torchvision"
    assert_served_like_the_framework(model, converted, "imagenet", 64)


@pytest.mark.parametrize("mode", ["caffe", "tf"])
def test_keras_presets(mode: str) -> None:
    model = keras_cnn(32)
    converted = register(model, f"keras:{mode}", size=32)
    manifest = converted.manifest
    assert manifest.outputs[0].name == "probabilities"
    assert manifest.processing["input"]["layout"] == "NHWC"
    assert manifest.parity.checks["images"]["reference"] == "keras"
    assert_served_like_the_framework(model, converted, f"keras:{mode}", 32)


def hf_vit(directory: Path) -> Any:
    """A tiny ViT image classifier built from a config (random weights, no download), saved
    as Hugging Face saves one: config.json (id2label) and preprocessor_config.json."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    torch.manual_seed(0)
    config = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=3,
        id2label={0: "tabby", 1: "tulip", 2: "pagoda"},
        label2id={"tabby": 0, "tulip": 1, "pagoda": 2},
    )
    vit = ViTForImageClassification(config).eval()
    vit.save_pretrained(directory)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(directory)

    class Logits(torch.nn.Module):  # the classifier's logits tensor, as torch.onnx exports
        def __init__(self) -> None:
            super().__init__()
            self.vit = vit

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.vit(pixel_values=pixel_values).logits  # type: ignore[no-any-return]

    return Logits().eval()


def test_hugging_face_style_vit(tmp_path: Path) -> None:
    model = hf_vit(tmp_path)
    config = tmp_path / "preprocessor_config.json"
    labels = read_labels(tmp_path / "config.json")
    assert labels == ("tabby", "tulip", "pagoda")
    converted = register(model, config, labels=labels)
    manifest = converted.manifest
    spec = manifest.processing["input"]
    assert spec["resize"] == {"height": 32, "width": 32} and spec["mean"] == [0.5, 0.5, 0.5]
    assert manifest.parity.checks["images"]["reference"] == "transformers"
    assert manifest.outputs[0].name == "logits"
    global LABELS
    saved, LABELS = LABELS, labels  # the answers' label names
    try:
        assert_served_like_the_framework(model, converted, config)
    finally:
        LABELS = saved


def test_a_preprocessing_that_differs_is_refused_naming_the_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.predict.processing import image as image_module
    from model_store.images import references

    # Slipway's resize made to differ from torchvision's (nearest instead of bilinear).
    wrong = {**image_module.RESAMPLE, "bilinear": image_module.RESAMPLE["nearest"]}
    monkeypatch.setattr(image_module, "RESAMPLE", wrong)
    monkeypatch.setattr(references, "RESAMPLE", dict(image_module.RESAMPLE) | {"bilinear": 2})
    spec = {"resize": {"height": 48, "width": 48}, "rescale": 1 / 255, "reduce": False}
    with pytest.raises(ParityError, match="resized"):
        register(torch_cnn(), spec, image_atol=1e-6)


def test_refusals_before_converting(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="preset"):
        register(torch_cnn(), "imagenet21k")
    (tmp_path / "p.json").write_text(json.dumps({"do_resize": True, "do_pad": True}))
    with pytest.raises(ConversionError, match="do_pad"):
        register(torch_cnn(), tmp_path / "p.json")
    with pytest.raises(ConversionError, match="no .jpg"):
        register(torch_cnn(), "imagenet", images_dir=tmp_path)


def test_slipway_register_with_preprocess_and_a_labels_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from infra.cli import main
    from model_store.backends.local import LocalStore
    from tests.model_store.helpers import fails

    path = tmp_path / "cnn.pt2"  # torch.export's format, with a free batch
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(
        torch_cnn(), (torch.zeros(2, 3, 64, 64),), dynamic_shapes=({0: batch},)
    )
    torch.export.save(program, path)
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    store = tmp_path / "store"
    argv = ["register", str(path), "--name", "photos", "--preprocess", "imagenet", "--size", "64"]
    argv += ["--labels", str(tmp_path / "labels.txt"), "--store", str(store)]
    assert main(argv) == 0, capsys.readouterr().err
    manifest = LocalStore(store).manifest("photos")
    assert manifest.labels == LABELS and manifest.processing["input"]["crop"]["height"] == 64
    assert manifest.parity is not None and manifest.parity.checks["images"]["top1_agree"] == 2
    line = fails([*argv[:5], "imagenet-22k", "--store", str(store)], capsys)
    assert "neither a preset" in line


def test_slipway_example_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnxruntime as ort

    from infra.cli import main
    from model_store.backends.local import LocalStore
    from model_store.example_image import LABELS as DIGITS
    from model_store.example_image import pictures

    assert main(["example", "--image", "--store", str(tmp_path)]) == 0
    assert "digit-pictures@1 registered" in capsys.readouterr().out
    store = LocalStore(tmp_path)
    manifest = store.manifest("digit-pictures")
    assert manifest.labels == DIGITS and manifest.processing["input"]["color"] == "L"
    images, classes = pictures()
    made = ImageInput(manifest.processing["input"], manifest, {}, Settings())
    feeds = made.feeds(images[1:30:3], {})
    data = (tmp_path / "digit-pictures" / "1" / "model.onnx").read_bytes()
    results = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    answers = Classification(manifest.processing["output"], manifest).answer(results, feeds, {})
    right = sum(a[0]["label"] == DIGITS[c] for a, c in zip(answers, classes[1:30:3], strict=True))
    assert right >= 8  # of 10 pictures, most read right
