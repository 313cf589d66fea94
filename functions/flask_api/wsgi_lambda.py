"""A Flask app on Lambda through serverless-wsgi, for HTTP API v2, REST v1, Function URL and ALB.

Any other event raises UnsupportedEvent naming it (functions/predict/events.py), as the
predict function does.

serverless-wsgi decodes base64 bodies leniently (characters outside the alphabet are dropped)
and raises on bad padding, which would crash the invoke into a 502; the contract checks the
body strictly first, so an invalid one gets the same 400 as on the predict function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import serverless_wsgi
from flask import Flask

from functions.predict import contract, events

if TYPE_CHECKING:
    # The typed context Lambda passes (mangum ships it as a Protocol); never imported at run time.
    from mangum.types import LambdaContext

Handler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]


def make_handler(app: Flask, error_headers: Mapping[str, str] | None = None) -> Handler:
    """A Lambda handler serving `app`; `error_headers` go on the invalid-base64 answer."""
    headers = dict(error_headers or {})

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # serverless-wsgi would fail on a non-HTTP event with a KeyError: name the event instead.
        events.require_http(event)
        refused = contract.refuse_before_app(event, headers)
        if refused is not None:
            return refused
        result: dict[str, Any] = serverless_wsgi.handle_request(app, event, context)
        return result

    return handler
