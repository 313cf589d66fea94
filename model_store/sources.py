"""Models and sample inputs read from files, for `slipway convert | register` and the API.

Each failure is a ConversionError whose one line says what was wrong and what to do: a file
that is missing or unreadable, of an unknown or wrong format, or a pickle whose class cannot
be imported here. The frameworks are imported only for the format at hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model_store.exceptions import ConversionError
from model_store.texts import read_jsonl, read_txt

MODEL_FORMATS = (
    "scikit-learn (XGBoost/LightGBM estimators too) .joblib/.pkl, XGBoost Booster .json/.ubj, "
    "LightGBM Booster .txt, PyTorch .pt2 (torch.export.save), .pt/.pth (torch.jit.save or "
    "torch.save), Keras .keras/.h5, .onnx, or a Hugging Face transformer directory "
    "(save_pretrained: config.json, weights, tokenizer.json)"
)
SAMPLE_FORMATS = ".npy, .npz, .csv, .parquet, .json, or texts in .txt (one a line) or .jsonl"
_SAMPLE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet", ".json", ".txt", ".jsonl")
# Libraries a pickle may need: missing, they are an extra to install (infra/extras.py says
# which), not a class of the user's that cannot be imported.
_LIBRARIES = frozenset(
    {"sklearn", "xgboost", "lightgbm", "torch", "keras", "numpy", "scipy", "pandas", "joblib"}
)
_ATTRIBUTE = re.compile(r"Can't get attribute '([^']+)' on <module '([^']+)'")
_API_HINT = "from model_store import register; register(model, name=..., sample=x)"


def check_readable(path: Path, what: str) -> None:
    if not path.exists():
        raise ConversionError(f"{what} {path} does not exist; check the path")
    if path.is_dir():
        raise ConversionError(f"{what} {path} is a directory; give the file itself")
    if not os.access(path, os.R_OK):
        raise ConversionError(f"{what} {path} cannot be read (permission denied); check its mode")


def load_model_file(path: Path) -> Any:
    """The model in `path`, by its suffix (.onnx files are read as bytes by the caller)."""
    check_readable(path, "model file")
    suffix = path.suffix.lower()
    if suffix in (".joblib", ".pkl", ".pickle"):
        return _joblib(path)
    if suffix == ".pt2":
        return _program(path)
    if suffix in (".pt", ".pth"):
        return _torch(path)
    if suffix in (".keras", ".h5"):
        return _keras(path)
    if suffix in (".json", ".ubj"):
        return _xgboost(path)
    if suffix == ".txt":
        return _lightgbm(path)
    raise ConversionError(f"{path}: unknown model format {suffix!r}; Slipway reads {MODEL_FORMATS}")


def _joblib(path: Path) -> Any:
    import joblib

    todo = (
        f"register it from the training script ({_API_HINT}), or make the module that "
        "defines the class importable (PYTHONPATH)"
    )
    try:
        with _classes_importable(path, todo):
            return joblib.load(path)  # pickle: only load files you trust
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise _unreadable(path, "a joblib or pickle file", exc, "joblib.dump(model, path)") from exc


@contextlib.contextmanager
def _classes_importable(path: Path, todo: str) -> Iterator[None]:
    """Unpickling in the block: a class that cannot be imported is a one-line error saying
    `todo`. A missing library is left as it is: the CLI names the extra that installs it."""
    try:
        yield
    except ModuleNotFoundError as exc:
        module = exc.name or "?"
        if module.split(".")[0] in _LIBRARIES:
            raise
        raise _unimportable(path, f"module {module!r} is not importable here", todo) from exc
    except AttributeError as exc:
        found = _ATTRIBUTE.search(str(exc))
        if found is None:
            raise ConversionError(f"{path} could not be unpickled: {_first_line(exc)}") from exc
        where = f"class {found.group(1)!r} is not in module {found.group(2)!r} here"
        raise _unimportable(path, where, todo) from exc


def _unimportable(path: Path, where: str, todo: str) -> ConversionError:
    return ConversionError(
        f"{path} holds a pickled object whose class cannot be imported ({where}): a pickle "
        f"only loads where the code of its class does; {todo}"
    )


def _unreadable(path: Path, kind: str, exc: BaseException, save: str) -> ConversionError:
    return ConversionError(
        f"{path} is not {kind} Slipway can read ({_first_line(exc)}); save the model with {save}"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return f"{type(exc).__name__}: {line[:200]}"


def _zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _program(path: Path) -> Any:
    import torch

    from model_store.convert.torch import quiet

    try:
        with quiet():
            return torch.export.load(path)
    except Exception as exc:  # torch raises many kinds of errors for a foreign file
        raise _unreadable(
            path, "a torch.export program", exc, "torch.export.save(torch.export.export(...))"
        ) from exc


_PT_SAVE = "torch.export.save (.pt2) or torch.jit.save"


def _torch(path: Path) -> Any:
    """A .pt/.pth: a torch.export archive, TorchScript (torch.jit.save) or a pickled module."""
    import torch

    from model_store.convert.torch import quiet

    members = _zip_members(path)
    if any(m.endswith("/archive_format") for m in members):
        return _program(path)
    if any(m.endswith("/constants.pkl") for m in members):
        try:
            with quiet():
                return torch.jit.load(path)  # type: ignore[no-untyped-call]
        except Exception as exc:  # torch raises RuntimeError and others
            raise _unreadable(path, "a TorchScript file", exc, _PT_SAVE) from exc
    todo = (
        "save it as a program instead, torch.export.save(torch.export.export(model, (x,)), "
        f"'model.pt2'), or register it from the training script: {_API_HINT}"
    )
    try:
        with quiet(), _classes_importable(path, todo):
            obj = torch.load(path, weights_only=False)  # pickle: only load files you trust
    except (ConversionError, ModuleNotFoundError):
        raise
    except Exception as exc:  # torch.load raises many kinds of errors for a foreign file
        raise _unreadable(path, "a PyTorch file", exc, _PT_SAVE) from exc
    if isinstance(obj, dict):
        raise ConversionError(
            f"{path} holds a state_dict (weights without the code that uses them); save a "
            f"program with torch.export.save, or register the module from its script: {_API_HINT}"
        )
    return obj


def _keras(path: Path) -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    try:
        return keras.saving.load_model(path)
    except Exception as exc:  # Keras raises ValueError, OSError, TypeError…
        raise _unreadable(path, "a Keras model", exc, "model.save('model.keras')") from exc


def _xgboost(path: Path) -> Any:
    import xgboost

    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except xgboost.core.XGBoostError as exc:
        raise ConversionError(
            f"{path} is not an XGBoost model (.json/.ubj model files are read as XGBoost "
            f"Boosters): {str(exc).strip().splitlines()[0][:200]}"
        ) from exc
    return booster


def _lightgbm(path: Path) -> Any:
    import lightgbm

    try:
        return lightgbm.Booster(model_file=str(path))
    except lightgbm.basic.LightGBMError as exc:
        raise ConversionError(
            f"{path} is not a LightGBM model (.txt model files are read as LightGBM "
            f"Boosters): {str(exc).strip().splitlines()[0][:200]}"
        ) from exc


# -- samples ---------------------------------------------------------------------------------


def load_sample(path: Path) -> Any:
    """Sample inputs from `path`: an array, arrays by name, or a DataFrame."""
    check_readable(path, "sample")
    suffix = path.suffix.lower()
    if suffix not in _SAMPLE_SUFFIXES:
        raise ConversionError(f"sample {path}: use {SAMPLE_FORMATS}")
    try:
        sample = _read_sample(path, suffix)
    except ConversionError:
        raise
    except (ValueError, OSError, EOFError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ConversionError(
            f"sample {path} could not be read as {suffix} ({_first_line(exc)}); give rows of "
            f"numbers (or named columns) in {SAMPLE_FORMATS}{_objects_hint(suffix, exc)}"
        ) from exc
    if not _rows(sample):
        raise ConversionError(f"sample {path} has no rows; parity needs at least one")
    return sample


def _objects_hint(suffix: str, exc: BaseException) -> str:
    """A .npy of Python objects (texts from a DataFrame's column are objects): what to do."""
    if suffix == ".npy" and "Object arrays" in str(exc):
        return (
            "; texts in a .npy must be a string array, np.save(path, np.array(texts, dtype=str)), "
            "or give them as .txt (one a line)"
        )
    return ""


def _read_sample(path: Path, suffix: str) -> Any:
    import numpy as np

    if suffix == ".txt":
        return read_txt(path)
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    if suffix == ".csv":
        if _has_header(path):  # named columns: a DataFrame, each column with its own dtype
            return _pandas().read_csv(path)
        # float64, the data's own precision: the original model sees it as is (parity).
        return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    if suffix == ".parquet":
        return _pandas().read_parquet(path)
    raw = json.loads(path.read_text())
    raw = raw.get("inputs", raw) if isinstance(raw, dict) else raw
    if isinstance(raw, dict):
        return {k: np.asarray(v) for k, v in raw.items()}
    return np.asarray(raw)


def _rows(sample: Any) -> int:
    if isinstance(sample, list):
        return len(sample)
    if isinstance(sample, dict):
        return min((len(v) if getattr(v, "ndim", 0) else 0 for v in sample.values()), default=0)
    return len(sample) if getattr(sample, "ndim", 1) else 0


def _has_header(path: Path) -> bool:
    with path.open(newline="") as fh:
        first = fh.readline()
    for field in first.strip().split(","):
        try:
            float(field)
        except ValueError:
            return True
    return False


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ConversionError(
            "a .csv with a header or a .parquet sample needs pandas: install the convert extra "
            "(pip install 'slipway[convert]')"
        ) from exc
    return pandas
