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

from functions.predict.openapi import TITLE

PACKAGE = "fastapi_offline"
# Relative to /docs, so the page works under any prefix (a stage, an exposed /ALIAS/).
ASSETS_PATH = "docs/assets"
OPENAPI_URL = "openapi.json"  # relative too
# The files the page loads, with their media types; nothing else in the package is served.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
BINARY_ASSETS = frozenset({"favicon.png"})  # not text: base64 in a Lambda result
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


@cache
def page(title: str = TITLE, openapi_url: str = OPENAPI_URL) -> tuple[bytes, str]:
    """Swagger UI's page and its media type; every URL on it is relative (`openapi_url` too)."""
    html = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - Swagger UI",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
    )
    return bytes(html.body), "text/html; charset=utf-8"


def asset(name: str) -> tuple[bytes, str, bool] | None:
    """One of ASSETS (bytes, media type, binary), or None for any other name."""
    media_type = ASSETS.get(name)
    if media_type is None:
        return None
    return _read(name), media_type, name in BINARY_ASSETS
