"""GET /docs from the function's own files: Swagger UI with no CDN, so it renders offline.

The assets are Swagger UI's dist build (swagger-ui-dist 5.x, Apache-2.0) as the
`fastapi-offline` package ships them (MIT); it is a runtime dependency, so it is in the
layer and the build's size report. Only its files are used, found without importing the
package. Imported by the /docs routes only: never on POST /predict's cold-start path.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

PACKAGE = "fastapi_offline"
# Relative to /docs, so the page works under any prefix (a stage, an exposed /ALIAS/).
ASSETS_PATH = "docs/assets"
# The files the page loads, with their media types; nothing else in the package is served.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
CACHE_CONTROL = "public, max-age=86400"  # they change only with the layer


@cache
def asset_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # finds it without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed: it is a runtime dependency (pyproject)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@cache
def _read(name: str) -> bytes:
    return (asset_dir() / name).read_bytes()


def page(title: str, openapi_url: str) -> HTMLResponse:
    """Swagger UI's page; every URL on it is relative (`openapi_url` too)."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - Swagger UI",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
    )


def asset(name: str) -> Response:
    """One of ASSETS; any other name is the app's JSON 404 of an unknown route."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404)
    return Response(_read(name), media_type=media_type, headers={"cache-control": CACHE_CONTROL})
