"""Lambda entry point of the Flask API: `functions/flask_api/handler.handler`.

Importing `api` loads the model during init, once per execution environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.flask_api.api import app, service
from functions.flask_api.wsgi_lambda import make_handler

if TYPE_CHECKING:
    # The typed context Lambda passes (mangum ships it as a Protocol); never imported at run time.
    from mangum.types import LambdaContext

_handle = make_handler(app, service.model_headers)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _handle(event, context)
