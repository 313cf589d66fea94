"""The FastAPI app: POST /predict, GET /health, GET /model, /docs and /openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.predict.exceptions import error_body
from functions.predict.openapi import predict_openapi
from functions.predict.service import JSON, PredictionService

_CODES = {404: "not_found", 405: "method_not_allowed"}


def create_app(service: PredictionService) -> FastAPI:
    manifest = service.manifest
    app = FastAPI(
        title="Slipway prediction API",
        version=str(manifest.version),
        description=f"Serves model **{manifest.ref}** ({manifest.framework}, {manifest.kind}).",
    )

    @app.post(
        "/predict",
        summary="Predict a batch of rows",
        **predict_openapi(manifest, service.settings.max_batch),
    )
    async def predict(request: Request) -> Response:
        reply = service.predict(await request.body(), request.headers.get("content-type"))
        return Response(
            reply.body, status_code=reply.status, headers=dict(reply.headers), media_type=JSON
        )

    @app.get("/health", summary="Liveness, with the model being served")
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/model", summary="The served model's manifest")
    def model() -> dict[str, Any]:
        return service.model_info()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        return Response(
            error_body(exc.status_code, code, str(exc.detail)),
            exc.status_code,
            headers,
            media_type=JSON,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": {"status": 422, "code": "invalid_request", "message": str(exc.errors())}}, 422
        )

    return app
