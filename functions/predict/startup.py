"""What every front end does at init, once per execution environment: load and verify the
model, build the dispatcher, and have it answer the model's own example request.

A model that cannot answer its own example fails init instead of its first caller,
onnxruntime's first-run allocations happen before traffic, and under SnapStart the snapshot
holds a session that has already run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from aws_lambda_powertools import Logger

from functions.predict.body import JSON
from functions.predict.config import Settings
from functions.predict.dispatch import Dispatcher, LogKeys
from functions.predict.exceptions import ModelInitError
from functions.predict.exchange import Request
from functions.predict.service import PredictionService


def load(
    env: Mapping[str, str],
    *,
    settings: Settings | None = None,
    logger: Any = None,
    s3_client: Any = None,
    keys: LogKeys | None = None,
    health: Mapping[str, str] | None = None,
) -> Dispatcher:
    """The dispatcher of the model `env` names, warmed up; ModelInitError on any failure."""
    settings = settings or Settings.from_mapping(env)
    logger = logger if logger is not None else Logger(service=settings.service)
    start = time.perf_counter()
    try:
        service = PredictionService.from_settings(settings, s3_client=s3_client)
    except Exception as exc:
        logger.error("init failed: the model cannot be served", extra={"reason": str(exc)})
        raise
    manifest = service.manifest
    if isinstance(logger, Logger):
        logger.append_keys(model=manifest.name, model_version=manifest.version)
    logger.info(
        "model loaded",
        extra={
            "sha256": manifest.sha256,
            "load_ms": round((time.perf_counter() - start) * 1000, 2),
        },
    )
    dispatch = Dispatcher(service, logger, health=health)
    if keys is not None:
        dispatch.keys = keys
    warm_up(dispatch)
    return dispatch


def warm_up(dispatch: Dispatcher) -> None:
    """Answer the manifest's example request once (ModelInitError if the model refuses it)."""
    example = dispatch.service.manifest.example
    if not example:
        return
    request = Request("POST", "/predict", {"content-type": JSON}, orjson.dumps(example))
    answer = dispatch(request)
    if answer.status != 200:
        raise ModelInitError(
            f"model {dispatch.service.manifest.ref} refused its own example request: "
            f"{answer.body.decode()[:300]}"
        )
