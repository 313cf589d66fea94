"""The FastAPI app: the source of /openapi.json and /docs, with every route in it.

On Lambda and in HTTP mode only /docs and /openapi.json reach this app (routes.py answers
the rest directly); its other routes answer through the same code, for the document and for
any front end that mounts the app whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.predict import contract
from functions.predict.exceptions import HTTPError, InvalidRequest
from functions.predict.oip import DATATYPES, HEADER_LENGTH
from functions.predict.openapi import OIP_TAG, oip_openapi, predict_openapi
from functions.predict.routes import Routes
from functions.predict.service import PredictionService


def _json(status: int, body: bytes, headers: Mapping[str, str]) -> Response:
    return Response(body, status, contract.json_headers(body, headers))


def _error(err: HTTPError, headers: Mapping[str, str]) -> Response:
    return _json(err.status, contract.error_body(err), headers)


def create_app(service: PredictionService, routes: Routes | None = None) -> FastAPI:
    manifest = service.manifest
    direct = routes or Routes(service)
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

    _oip_routes(app, direct, service)

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


def _oip_routes(app: FastAPI, routes: Routes, service: PredictionService) -> None:
    """The Open Inference Protocol's routes, answered by oip.py (as on the direct paths).

    Documented with the served model's own name and version in the path (one model per
    function): no path parameter a client could fill with another name. Any other name is
    the protocol's 404, answered by oip.py on every front end.
    """
    manifest = service.manifest
    docs = oip_openapi(manifest, service.settings.max_batch, DATATYPES)

    async def answer(request: Request) -> Response:
        body = await request.body() if request.method == "POST" else b""
        got = routes.answer(
            request.method, request.url.path, body, request.headers.get(HEADER_LENGTH)
        )
        return Response(got.body, got.status, dict(got.headers))

    kw: dict[str, Any] = {"tags": [OIP_TAG]}
    app.get("/v2", summary="Server metadata", **kw, **docs["server"])(answer)
    app.get("/v2/health/live", summary="Server liveness", **kw, **docs["health"])(answer)
    app.get("/v2/health/ready", summary="Server readiness", **kw, **docs["health"])(answer)
    model = f"/v2/models/{quote(manifest.name, safe='')}"
    for prefix in (model, f"{model}/versions/{manifest.version}"):
        what = " (this version)" if "/versions/" in prefix else ""
        app.get(prefix, summary=f"Model metadata{what}", **kw, **docs["metadata"])(answer)
        app.get(f"{prefix}/ready", summary=f"Model readiness{what}", **kw, **docs["ready"])(answer)
        app.post(f"{prefix}/infer", summary=f"Inference{what}", **kw, **docs["infer"])(answer)
