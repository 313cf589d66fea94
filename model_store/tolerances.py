"""The parity checks' default tolerances, in one light module: the CLI's parser states them
without importing the converters (numpy and the frameworks: ~70 ms on every `slipway`)."""

from __future__ import annotations

# |onnx - original| <= atol + rtol * |original|, per value, on the sample.
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3
# An int8 model against its float model: the largest difference allowed by default.
DEFAULT_INT8_ATOL = 0.1
