"""Issue 28's PyTorch repros through `slipway register`, saved the ways people save them, then
served: torch.export programs (.pt2), TorchScript files, and a pickled module whose class
cannot be imported here (a one-line error saying what to do instead). Keras's broken file too.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra.cli import main
from model_store import register
from tests.model_store.helpers import fails, net_class, serve

# Integration (torch converts); torch is imported by the fixtures, so that `-m unit` does not
# pay for it when collecting this module.
pytestmark = pytest.mark.integration
LABELS = "a,b,c"


def fixed_batch() -> Any:
    import torch

    class FixedBatch(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.view(20, 2, 4).sum(-1)  # the sample's batch size, written into the graph

    return FixedBatch()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, np.ndarray]:
    """The model saved every way, as a training script would."""
    import torch

    Net = net_class()
    d = tmp_path_factory.mktemp("torch")
    torch.manual_seed(0)
    model = Net().eval()
    x = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    np.save(d / "rows.npy", x)
    xt = torch.from_numpy(x)
    torch.export.save(torch.export.export(model, (xt,)), d / "net.pt2")  # as the issue: no dims
    batch = torch.export.Dim("batch")
    dynamic = torch.export.export(model, (xt,), dynamic_shapes=({0: batch},))
    torch.export.save(dynamic, d / "dynamic.pt2")
    torch.export.save(dynamic, d / "program.pt")  # a program under the usual suffix
    torch.jit.save(torch.jit.trace(model, xt), d / "traced.pt")
    torch.jit.save(torch.jit.script(model), d / "scripted.pt")
    torch.export.save(torch.export.export(fixed_batch(), (xt,)), d / "fixed.pt2")
    torch.save(model.state_dict(), d / "weights.pt")
    (d / "garbage.pt").write_bytes(b"\x80\x04not a torch file")
    (d / "garbage.pt2").write_bytes(b"PK\x03\x04 not a program")
    (d / "garbage.keras").write_bytes(b"not a keras file")
    # The repro: `class Net` in the training script, `torch.save(model, "net.pt")`.
    main_module = sys.modules["__main__"]
    script_net = type("Net", (Net,), {"__module__": "__main__", "__qualname__": "Net"})
    main_module.Net = script_net
    try:
        pickled = script_net()
        pickled.load_state_dict(model.state_dict())
        torch.save(pickled, d / "net.pt")
    finally:
        delattr(main_module, "Net")
    # A class from a module of the training job that is not installed here.
    job = types.ModuleType("training_job")
    job.Net = type("Net", (Net,), {"__module__": "training_job"})  # type: ignore[attr-defined]
    sys.modules["training_job"] = job
    try:
        torch.save(job.Net(), d / "job.pt")
    finally:
        del sys.modules["training_job"]
    return d, model, x


def _register(d: Path, model: str, *extra: str) -> list[str]:
    return ["register", str(d / model), "--name", "net", "--sample", str(d / "rows.npy"), "--store", str(d / "store"), *extra]  # fmt: skip


@pytest.mark.parametrize("file", ["net.pt2", "dynamic.pt2", "program.pt", "traced.pt", "scripted.pt"])  # fmt: skip
def test_portable_files_register_with_a_free_batch_and_serve(
    saved, file: str, tmp_path: Path, capsys
) -> None:
    import torch

    d, model, x = saved
    store = tmp_path / "store"
    argv = _register(d, file, "--labels", LABELS)
    argv[argv.index("--store") + 1] = str(store)
    assert main(argv) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert "net@1 registered" in captured.out and "parity: max abs" in captured.out
    assert "Warning" not in captured.err and "W1" not in captured.err  # torch's noise is kept in
    manifest = json.loads((store / "net" / "1" / "manifest.json").read_text())
    assert manifest["inputs"] == [{"name": "input", "shape": ["batch", 8], "dtype": "float32"}]
    assert [o["name"] for o in manifest["outputs"]] == ["logits"]
    assert manifest["parity"]["passed"] and manifest["labels"] == ["a", "b", "c"]
    out = serve(store, "net@1", {"inputs": x[:5].tolist()})  # another batch size than saved
    with torch.no_grad():
        want = model(torch.from_numpy(x[:5])).numpy()
    np.testing.assert_allclose(out["logits"], want, atol=1e-5)
    assert out["label"] == [LABELS.split(",")[i] for i in want.argmax(axis=1)]


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("net.pt", "class 'Net' is not in module '__main__' here"),
        ("job.pt", "module 'training_job' is not importable here"),
    ],
)
def test_a_pickled_module_whose_class_cannot_be_imported_is_one_line(
    saved, file: str, expected: str, capsys
) -> None:
    line = fails(_register(saved[0], file), capsys)
    assert expected in line
    assert "torch.export.save(torch.export.export(model, (x,)), 'model.pt2')" in line
    assert "from model_store import register; register(model, name=..., sample=x)" in line


@pytest.mark.parametrize(
    ("file", "extra", "expected"),
    [
        ("weights.pt", (), "holds a state_dict (weights without the code that uses them)"),
        ("garbage.pt", (), "is not a PyTorch file Slipway can read"),
        ("garbage.pt2", (), "is not a torch.export program Slipway can read"),
        ("garbage.keras", (), "is not a Keras model Slipway can read"),
        ("fixed.pt2", (), "takes a fixed batch of 20 rows: its graph computes with the sample's"),
        ("dynamic.pt2", ("--precision", "float64"), "cannot be converted in double precision"),
        ("dynamic.pt2", ("--outputs", "a,b"), "returns 1 outputs but 2 output names"),
    ],
)  # fmt: skip
def test_torch_and_keras_errors_are_one_line(
    saved, file: str, extra: tuple[str, ...], expected: str, capsys
) -> None:
    assert expected in fails(_register(saved[0], file, *extra), capsys)


def test_programs_and_script_modules_from_memory(saved, tmp_path: Path) -> None:
    import torch

    _, model, x = saved
    xt = torch.from_numpy(x)
    program = torch.export.export(model, (xt,))
    first = register(program, name="p", sample=x, store=tmp_path, output_names=["score"])
    assert [o.name for o in first.manifest.outputs] == ["score"]
    script = torch.jit.trace(model, xt)
    second = register(script, name="s", sample=x, store=tmp_path)
    assert [o.name for o in second.manifest.outputs] == ["output"]
    softmax = torch.nn.Sequential(model, torch.nn.Softmax(dim=-1))
    third = register(softmax, name="sm", sample=x, store=tmp_path)
    assert [o.name for o in third.manifest.outputs] == ["probabilities"]
    for version in (first, second, third):
        assert version.parity is not None and version.parity.passed


def test_a_module_that_fails_on_the_sample(tmp_path: Path) -> None:
    from model_store.exceptions import ConversionError

    wrong = np.zeros((4, 5), dtype=np.float32)
    with pytest.raises(ConversionError, match="could not run on the sample .*mat1 and mat2"):
        register(net_class()(), name="n", sample=wrong, store=tmp_path)
