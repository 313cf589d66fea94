"""A Flask app on Lambda through serverless-wsgi, for HTTP API v2, REST v1 and Function URLs.

serverless-wsgi decodes base64 bodies leniently (characters outside the alphabet are dropped)
and raises on bad padding, which would crash the invoke into a 502; the body is checked
strictly here first, so an invalid one gets the same 400 as on the predict function.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

import serverless_wsgi
from flask import Flask

from functions.predict import events
from functions.predict.exceptions import InvalidBase64

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def base64_error(event: Mapping[str, Any]) -> InvalidBase64 | None:
    """The error for an event whose body is marked base64 but does not decode, else None."""
    body = event.get("body")
    if not event.get("isBase64Encoded") or not body:
        return None
    try:
        base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        return InvalidBase64(f"the body is marked base64-encoded but does not decode: {exc}")
    return None


def make_handler(app: Flask, error_headers: Mapping[str, str] | None = None) -> Handler:
    """A Lambda handler serving `app`; `error_headers` go on the invalid-base64 answer."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        err = base64_error(event)
        if err is not None:
            request = events.parse(event)
            kind = request.kind if request else events.V2
            return events.respond(kind, err.status, err.body(), dict(error_headers or {}))
        return serverless_wsgi.handle_request(app, event, context)

    return handler
