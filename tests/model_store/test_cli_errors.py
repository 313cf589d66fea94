"""Every error path of `slipway example | convert | register | models` (model_store/cli.py):
one line on stderr saying what was wrong and what to do, exit status 1, never a traceback;
`--debug` prints the traceback. PyTorch's and Keras's paths: test_torch_formats.py."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra.cli import main
from tests.model_store.helpers import fails


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fitted scikit-learn model, its sample and broken files of every kind."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("cli")
    x, y = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(x, y), d / "model.joblib")
    np.save(d / "rows.npy", x[:20])
    np.save(d / "three.npy", x[:20, :3])
    np.save(d / "flat.npy", x[:20, 0])
    np.save(d / "empty.npy", np.zeros((0, 4)))
    np.save(d / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (d / "ragged.json").write_text(json.dumps({"inputs": [[1, 2, 3, 4], [1, 2]]}))
    (d / "broken.json").write_text("{not json")
    (d / "rows.txt").write_text("1,2,3,4\n")
    (d / "garbage.joblib").write_bytes(b"\x00not a pickle at all")
    (d / "garbage.onnx").write_bytes(b"not onnx")
    (d / "model.xyz").write_text("?")
    (d / "a_file").write_text("")
    return d


def _register(files: Path, model: str, *extra: str, sample: str = "rows.npy") -> list[str]:
    store = files / "store"
    return ["register", str(files / model), "--name", "m", "--sample", str(files / sample), "--store", str(store), *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "sample", "expected"),
    [
        ("missing.joblib", "rows.npy", "model file {d}/missing.joblib does not exist; check the path"),
        ("store_dir", "rows.npy", "is a directory; give the file itself"),
        ("model.xyz", "rows.npy", "unknown model format '.xyz'; Slipway reads scikit-learn"),
        ("garbage.joblib", "rows.npy", "is not a joblib or pickle file Slipway can read"),
        ("garbage.onnx", "rows.npy", "not a valid ONNX file"),
        ("model.joblib", "missing.npy", "sample {d}/missing.npy does not exist; check the path"),
        ("model.joblib", "store_dir", "is a directory; give the file itself"),
        ("model.joblib", "rows.txt", "the sample holds texts, but the LogisticRegression takes numbers"),
        ("model.joblib", "objects.npy", "could not be read as .npy (ValueError: Object arrays"),
        ("model.joblib", "ragged.json", "could not be read as .json (ValueError"),
        ("model.joblib", "broken.json", "could not be read as .json (JSONDecodeError"),
        ("model.joblib", "empty.npy", "has no rows; parity needs at least one"),
        ("model.joblib", "flat.npy", "sample inputs must be 2-D (rows, features); got (20,)"),
        ("model.joblib", "three.npy", "could not predict on the sample (ValueError: X has 3 features"),
    ],
)  # fmt: skip
def test_files_and_samples_of_the_wrong_kind(
    files: Path, model: str, sample: str, expected: str, capsys
) -> None:
    (files / "store_dir").mkdir(exist_ok=True)
    line = fails(_register(files, model, sample=sample), capsys)
    assert expected.format(d=files) in line, line


def test_a_pickle_whose_class_cannot_be_imported(files: Path, tmp_path: Path, capsys) -> None:
    """The issue's repro in scikit-learn's form: a class defined in the training script."""
    import joblib

    script = types.ModuleType("train_script")
    exec("class Scaler:\n    def transform(self, x):\n        return x\n", script.__dict__)
    sys.modules["train_script"] = script
    try:
        joblib.dump(script.Scaler(), tmp_path / "m.joblib")
    finally:
        del sys.modules["train_script"]
    line = fails(_register(files, str(tmp_path / "m.joblib")), capsys)
    assert "module 'train_script' is not importable here" in line
    assert "from model_store import register; register(model" in line


def test_an_unreadable_file(files: Path, monkeypatch, capsys) -> None:
    # Tests run as root, who reads any file: the permission check is what is tested.
    from model_store import sources

    real = sources.os.access
    denied = str(files / "model.joblib")
    monkeypatch.setattr(sources.os, "access", lambda p, mode: str(p) != denied and real(p, mode))
    assert "cannot be read (permission denied); check its mode" in fails(_register(files, "model.joblib"), capsys)  # fmt: skip


def test_a_sample_is_required_unless_onnx(files: Path, capsys) -> None:
    argv = ["register", str(files / "model.joblib"), "--name", "m", "--store", str(files / "s")]
    assert "a sample is required to convert: parity is checked on it" in fails(argv, capsys)


@pytest.mark.parametrize("name", ["m@2", "a b", "../up"])
def test_a_bad_name_is_refused_before_converting(files: Path, name: str, capsys) -> None:
    argv = _register(files, "model.joblib")
    argv[argv.index("--name") + 1] = name
    line = fails(argv, capsys)
    assert repr(name) in line and "name" in line, line


def test_parity_refused_and_a_failed_conversion(files: Path, capsys) -> None:
    line = fails(_register(files, "model.joblib", "--atol", "0", "--rtol", "0"), capsys)
    assert "differs from the original beyond tolerance" in line and "--atol/--rtol" in line
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x = np.load(files / "rows.npy")
    unsupported = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression())
    joblib.dump(unsupported.fit(x, np.arange(20) % 2), files / "log.joblib")
    line = fails(_register(files, "log.joblib"), capsys)
    assert "skl2onnx could not convert step 'functiontransformer' (FunctionTransformer)" in line
    assert "versions: scikit-learn" in line and "try: " in line


def test_convert_cannot_write_its_output(files: Path, capsys) -> None:
    out = files / "a_file" / "model.onnx"  # a file where a directory should be
    argv = ["convert", str(files / "model.joblib"), "--name", "m", "--sample", str(files / "rows.npy"), "--out", str(out)]  # fmt: skip
    assert "a_file" in fails(argv, capsys)


def test_a_store_that_cannot_be_written_or_read(files: Path, tmp_path: Path, capsys) -> None:
    line = fails(_register(files, "model.joblib")[:-1] + [str(files / "a_file")], capsys)
    assert "a_file" in line and "check the path" in line
    bad = tmp_path / "store" / "m" / "1"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text("{")
    line = fails(["models", "--store", str(tmp_path / "store")], capsys)
    assert "cannot read" in line and "manifest.json" in line
    line = fails(["example", "--store", str(files / "a_file")], capsys)
    assert "a_file" in line
    assert "the name must be" in fails(
        ["example", "--store", str(tmp_path), "--name", "a b"], capsys
    )


def test_an_s3_store_without_credentials(monkeypatch, capsys) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata to ask
    import boto3

    # A default session an earlier test made holds that test's credentials: start afresh.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    line = fails(["models", "--store", "s3://bucket/models"], capsys)
    assert "S3: Unable to locate credentials; check the AWS credentials" in line
    assert "names no bucket" in fails(["models", "--store", "s3://"], capsys)


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    files: Path, monkeypatch, capsys
) -> None:
    from model_store import api

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(api, "convert_model", broken)
    line = fails(_register(files, "model.joblib"), capsys)
    assert "RuntimeError: first line second line (unexpected: run again with --debug" in line
    for argv in (_register(files, "model.joblib"), _register(files, "model.joblib", sample="missing.npy")):  # fmt: skip
        assert main([*argv, "--debug"]) == 1
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err


def test_a_missing_library_names_the_extra_to_install(files: Path, monkeypatch, capsys) -> None:
    from model_store import sources

    def needs_xgboost(path: Path) -> Any:
        raise ModuleNotFoundError("No module named 'xgboost'", name="xgboost")

    monkeypatch.setattr(sources, "_xgboost", needs_xgboost)
    (files / "booster.json").write_text("{}")
    line = fails(_register(files, "booster.json"), capsys)
    assert "is not installed: pip install" in line


def test_an_onnx_file_registers_without_a_sample(files: Path, tmp_path: Path, capsys) -> None:
    """The one path that needs no sample, and what success prints (no error line)."""
    out = tmp_path / "m.onnx"
    assert main(["convert", str(files / "model.joblib"), "--name", "m", "--sample", str(files / "rows.npy"), "--out", str(out)]) == 0  # fmt: skip
    assert main(["register", str(out), "--name", "m", "--store", str(tmp_path / "s")]) == 0
    captured = capsys.readouterr()
    assert "m@1 registered" in captured.out and "parity: not checked (ONNX given)" in captured.out
    assert "error" not in captured.err
