"""Every environment variable the prediction function reads, in one place.

Settings are built from a mapping (os.environ in production) so tests pass a dict instead of
monkeypatching the environment; explicit values given to `Settings(...)` beat both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from functions.predict.exceptions import ConfigError
from functions.predict.limits import LAMBDA_PAYLOAD_LIMIT

MODEL = "SLIPWAY_MODEL"  # name@version (local store) or s3://bucket/prefix/name/version
MODEL_SHA256 = "SLIPWAY_MODEL_SHA256"  # required with an S3 model
STORE = "SLIPWAY_STORE"  # root of the local model store
MAX_BATCH = "SLIPWAY_MAX_BATCH"
MAX_BODY_BYTES = "SLIPWAY_MAX_BODY_BYTES"
ORT_THREADS = "SLIPWAY_ORT_THREADS"
METRICS = "SLIPWAY_METRICS"  # "off" disables EMF metrics
TRACING = "SLIPWAY_TRACING"  # "on" enables X-Ray tracing through powertools
SERVICE = "POWERTOOLS_SERVICE_NAME"
INIT_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"  # set by Lambda: "on-demand", "snap-start", …
NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
MAX_IMAGE_PIXELS = "SLIPWAY_MAX_IMAGE_PIXELS"  # per image, from its header, before decoding
MAX_IMAGES = "SLIPWAY_MAX_IMAGES"  # images in one request
MAX_TEXT_CHARS = "SLIPWAY_MAX_TEXT_CHARS"  # characters in one text, before tokenizing
MAX_TEXTS = "SLIPWAY_MAX_TEXTS"  # texts in one request

# Under LAMBDA_PAYLOAD_LIMIT, with room for the event's envelope around the body.
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_BATCH = 1024
# 40 megapixels: a 48 MP phone photo is refused, a 12 MP one (4000x3000) decodes in well under
# Lambda's default 1024 MB (an RGB copy is 3 bytes a pixel; Pillow's own guard is at 89 MP).
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
DEFAULT_MAX_IMAGES = 32
# A text model's request: 64 texts of up to 20,000 characters (a long e-mail; a model reads at
# most its max_length tokens of it, ~4 characters a token). Tokenizing is linear in characters;
# the model's time is batch x tokens, which max_length bounds.
DEFAULT_MAX_TEXT_CHARS = 20_000
DEFAULT_MAX_TEXTS = 64

_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"0", "false", "off", "no"}


def _int(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{key}={value} is outside [{low}, {high}]")
    return value


def _flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{key}={raw!r}: use on or off")


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    model_sha256: str | None = None
    store_root: str | None = None
    max_batch: int = DEFAULT_MAX_BATCH
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    ort_threads: int = 1
    metrics: bool = True
    tracing: bool = False
    service: str = "slipway-predict"
    namespace: str = "Slipway"
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    max_images: int = DEFAULT_MAX_IMAGES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    max_texts: int = DEFAULT_MAX_TEXTS

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            model=env.get(MODEL) or None,
            model_sha256=env.get(MODEL_SHA256) or None,
            store_root=env.get(STORE) or None,
            max_batch=_int(env, MAX_BATCH, DEFAULT_MAX_BATCH, 1, 1_000_000),
            max_body_bytes=_int(
                env, MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, 1, LAMBDA_PAYLOAD_LIMIT
            ),
            ort_threads=_int(env, ORT_THREADS, 1, 0, 64),
            metrics=_flag(env, METRICS, True),
            tracing=_flag(env, TRACING, False),
            service=env.get(SERVICE) or "slipway-predict",
            namespace=env.get(NAMESPACE) or "Slipway",
            max_image_pixels=_int(
                env, MAX_IMAGE_PIXELS, DEFAULT_MAX_IMAGE_PIXELS, 1, 2 * DEFAULT_MAX_IMAGE_PIXELS
            ),
            max_images=_int(env, MAX_IMAGES, DEFAULT_MAX_IMAGES, 1, DEFAULT_MAX_BATCH),
            max_text_chars=_int(env, MAX_TEXT_CHARS, DEFAULT_MAX_TEXT_CHARS, 1, 1_000_000),
            max_texts=_int(env, MAX_TEXTS, DEFAULT_MAX_TEXTS, 1, DEFAULT_MAX_BATCH),
        )
