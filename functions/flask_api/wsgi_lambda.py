"""A Flask app on Lambda through serverless-wsgi, for HTTP API v2, REST v1, Function URL and ALB.

Any other event raises UnsupportedEvent naming it (functions/predict/adapters), as the
predict function does.

serverless-wsgi decodes base64 bodies leniently (characters outside the alphabet are dropped)
and raises on bad padding, which would crash the invoke into a 502; the contract checks the
body strictly first (the event source's read), so an invalid one gets the same 400 as on
the predict function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import serverless_wsgi
from flask import Flask

from functions.predict.adapters import apigw_v2, require_http, source_for
from functions.predict.adapters.payload import body_of
from functions.predict.body import JSON
from functions.predict.errors import error_body
from functions.predict.exchange import Answer

if TYPE_CHECKING:
    # The typed context Lambda passes (mangum ships it as a Protocol); never imported at run time.
    from mangum.types import LambdaContext

Handler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]


def refuse_before_app(
    event: Mapping[str, Any], headers: Mapping[str, str]
) -> dict[str, Any] | None:
    """The 400 result for an event whose base64 body does not decode strictly, else None."""
    _, refused = body_of(event)
    if refused is None:
        return None
    answer = Answer(refused.status, error_body(refused), {"content-type": JSON, **headers})
    return (source_for(event) or apigw_v2.SOURCE).write(answer)


def make_handler(app: Flask, error_headers: Mapping[str, str] | None = None) -> Handler:
    """A Lambda handler serving `app`; `error_headers` go on the invalid-base64 answer."""
    headers = dict(error_headers or {})

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # serverless-wsgi would fail on a non-HTTP event with a KeyError: name the event instead.
        require_http(event)
        refused = refuse_before_app(event, headers)
        if refused is not None:
            return refused
        result: dict[str, Any] = serverless_wsgi.handle_request(app, event, context)
        return result

    return handler
