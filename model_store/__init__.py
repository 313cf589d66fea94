"""Slipway's model store: ONNX conversion with parity checks, manifests, versioned backends.

Serving code imports only `model_store.manifest`, `model_store.loader` and the backends;
conversion (skl2onnx, torch, keras) lives in `model_store.convert` and is imported lazily.

The Python API registers a model from where it was trained (model_store/api.py):

    from model_store import register
    version = register(model, name="churn", sample=x_test)
"""

from __future__ import annotations

import importlib
from typing import Any

DEFAULT_MODEL_NAME = "digits"

# model_store.api's names, imported on first use. Not by an import statement: the function
# zip ships every module an import statement reaches (infra/build/function.py), and the API
# reaches the converters, which serving never needs.
_API = ("Registered", "convert_model", "register")
__all__ = ["DEFAULT_MODEL_NAME", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("model_store.api"), name)
    raise AttributeError(f"module 'model_store' has no attribute {name!r}")
