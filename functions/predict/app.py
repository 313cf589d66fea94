"""The FastAPI app: POST /predict, GET /health, GET /model, /docs and /openapi.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.predict import contract
from functions.predict.exceptions import HTTPError, InvalidRequest
from functions.predict.openapi import predict_openapi
from functions.predict.service import PredictionService


def _json(status: int, body: bytes, headers: Mapping[str, str]) -> Response:
    return Response(body, status, contract.json_headers(body, headers))


def _error(err: HTTPError, headers: Mapping[str, str]) -> Response:
    return _json(err.status, contract.error_body(err), headers)


def create_app(service: PredictionService) -> FastAPI:
    manifest = service.manifest
    app = FastAPI(
        title="Slipway prediction API",
        version=str(manifest.version),
        description=f"Serves model **{manifest.ref}** ({manifest.framework}, {manifest.kind}).",
        # FastAPI's own /docs loads Swagger UI from a CDN; ours serves it (functions.predict.docs).
        docs_url=None,
        redoc_url=None,
    )

    @app.post(
        "/predict",
        summary="Predict a batch of rows",
        **predict_openapi(manifest, service.settings.max_batch),
    )
    async def predict(request: Request) -> Response:
        reply = service.predict(await request.body(), request.headers.get("content-type"))
        return _json(reply.status, reply.body, reply.headers)

    @app.get("/health", summary="Liveness, with the model being served")
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/model", summary="The served model's manifest")
    def model() -> dict[str, Any]:
        return service.model_info()

    @app.get("/docs", include_in_schema=False)
    def docs_page() -> Response:
        from functions.predict import docs  # off POST /predict's cold-start path

        return docs.page(app.title, (app.openapi_url or "/openapi.json").lstrip("/"))

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        from functions.predict import docs

        return docs.asset(name)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        err = contract.framework_error(
            exc.status_code, request.method, request.url.path, str(exc.detail)
        )
        return _error(err, exc.headers or {})  # a 405 carries Allow

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's errors quote the client's input: bounded like every other quote.
        return _error(InvalidRequest(contract.clip(str(exc.errors()))), {})

    return app
