"""Errors raised by the model store."""

from __future__ import annotations


class ModelStoreError(Exception):
    """Base class of every model store error; its message says what to do next."""


class ModelNotFound(ModelStoreError):
    """Raise when a model name or version does not exist in the store."""


class ChecksumMismatch(ModelStoreError):
    """Raise when stored or downloaded bytes do not hash to the manifest's sha256."""


class UnsafeModel(ModelStoreError):
    """Raise when an ONNX file uses external data or custom operator domains."""


class ManifestError(ModelStoreError):
    """Raise when a manifest is missing fields, malformed, or disagrees with its model."""


class ConversionError(ModelStoreError):
    """Raise when a model cannot be converted to ONNX."""


class ParityError(ConversionError):
    """Raise when the ONNX model's outputs differ from the original beyond tolerance."""


class InvalidReference(ModelStoreError):
    """Raise when a model reference is not `name`, `name@version` or `s3://bucket/key`."""
