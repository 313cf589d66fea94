"""Slipway's model store: ONNX conversion with parity checks, manifests, versioned backends.

Serving code imports only `model_store.manifest`, `model_store.loader` and the backends;
conversion (skl2onnx, torch, keras) lives in `model_store.convert` and is imported lazily.
"""

from __future__ import annotations

DEFAULT_MODEL_NAME = "digits"
