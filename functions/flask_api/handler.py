"""Lambda entry point of the Flask API: `functions/flask_api/handler.handler`.

Importing `api` loads the model during init, once per execution environment.
"""

from __future__ import annotations

from typing import Any

from functions.flask_api.api import app, service
from functions.flask_api.wsgi_lambda import make_handler

_handle = make_handler(app, service.model_headers)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handle(event, context)
