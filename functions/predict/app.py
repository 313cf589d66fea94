"""The FastAPI app: the source of the OpenAPI document (GET /openapi.json), and an ASGI app
whose every route answers through the dispatcher, for anyone who mounts it whole.

The front ends never route through it: the dispatcher serves /openapi.json from this app's
`openapi()` and /docs from docs.py, and imports this module on the first of them only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.predict.errors import error_body, framework_error
from functions.predict.exceptions import HTTPError, InvalidRequest
from functions.predict.exchange import Answer
from functions.predict.exchange import Request as Incoming
from functions.predict.messages import clip
from functions.predict.oip import DATATYPES
from functions.predict.openapi import TITLE, predict_openapi
from functions.predict.openapi_oip import OIP_TAG, oip_openapi
from functions.predict.service import PredictionService

Dispatch = Callable[[Incoming], Answer]
_Object = dict[str, Any]


def _response(answer: Answer) -> Response:
    headers = {"content-length": str(len(answer.body)), **answer.headers}
    return Response(answer.body, answer.status, headers)


def _error(err: HTTPError, headers: Mapping[str, str]) -> Response:
    body = error_body(err)
    return Response(body, err.status, {"content-type": "application/json", **headers})


def create_app(service: PredictionService, dispatch: Dispatch) -> FastAPI:
    manifest = service.manifest
    app = FastAPI(
        title=TITLE,
        version=str(manifest.version),
        description=f"Serves model **{manifest.ref}** ({manifest.framework}, {manifest.kind}).",
        # FastAPI's own /docs loads Swagger UI from a CDN; the dispatcher serves ours (docs.py).
        docs_url=None,
        redoc_url=None,
    )

    async def answer(request: Request) -> Response:
        incoming = Incoming(
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
            request.url.query,
        )
        return _response(dispatch(incoming))

    @app.post("/predict", **predict_openapi(manifest, service.settings))
    async def predict(request: Request) -> Response:
        return await answer(request)

    # response_model: the document states a JSON object (the dispatcher's Response is sent).
    @app.get("/health", summary="Liveness, with the model being served", response_model=_Object)
    async def health(request: Request) -> Response:
        return await answer(request)

    @app.get("/model", summary="The served model's manifest", response_model=_Object)
    async def model(request: Request) -> Response:
        return await answer(request)

    _oip_routes(app, service, answer)
    app.get("/docs", include_in_schema=False)(answer)
    app.get("/docs/assets/{name}", include_in_schema=False)(answer)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        err = framework_error(exc.status_code, request.method, request.url.path, str(exc.detail))
        return _error(err, exc.headers or {})  # a 405 carries Allow

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's errors quote the client's input: bounded like every other quote.
        return _error(InvalidRequest(clip(str(exc.errors()))), {})

    return app


def _oip_routes(app: FastAPI, service: PredictionService, answer: Callable[..., Any]) -> None:
    """The Open Inference Protocol's routes, documented with the served model's own name and
    version in the path (one model per function): no path parameter a client could fill with
    another name. Any other name is the protocol's 404, answered by the dispatcher."""
    manifest = service.manifest
    extras = service.processing.extras if service.processing is not None else None
    extra_outputs = extras.extra_outputs if extras is not None else ()
    docs = oip_openapi(manifest, service.settings.max_batch, DATATYPES, extra_outputs)
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
