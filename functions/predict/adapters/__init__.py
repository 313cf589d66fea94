"""The front ends: each translates its own request into a Request for the dispatcher and the
Answer back, and decides nothing else.

Lambda's event sources, one module each with the same small interface (`EventSource`, as
Mangum's handlers): API Gateway HTTP API (payload 2.0), Lambda Function URLs, API Gateway
REST API (and HTTP API payload 1.0), and Application Load Balancer target groups. Any other
event is refused by `require_http`, naming what it is (unsupported.py). HTTP mode's ASGI app
is asgi.py; the Flask app stays in functions/flask_api.
"""

from __future__ import annotations

from typing import Any, Protocol

from functions.predict.adapters import alb, apigw_v1, apigw_v2, function_url
from functions.predict.adapters.unsupported import SUPPORTED, describe
from functions.predict.exceptions import UnsupportedEvent
from functions.predict.exchange import Answer, Request


class EventSource(Protocol):
    """One Lambda event source: recognise its events, read one, write the answer to it."""

    name: str  # the source, for messages
    kind: str  # its payload format ("v2", "v1", "alb", "alb-multi"): what its result looks like

    def infer(self, event: Any) -> bool: ...

    def read(self, event: Any) -> Request: ...

    def write(self, answer: Answer) -> dict[str, Any]: ...


# In the order they are tried: the usual event first. A Function URL event is a payload 2.0
# event on its own domain (apigw_v2.is_function_url).
SOURCES: tuple[EventSource, ...] = (
    apigw_v2.SOURCE,
    function_url.SOURCE,
    apigw_v1.SOURCE,
    alb.SOURCE,
    alb.MULTI_SOURCE,
)


def source_for(event: Any) -> EventSource | None:
    """The event source `event` comes from, or None for an event that is not an HTTP request."""
    for source in SOURCES:
        if source.infer(event):
            return source
    return None


def require_http(event: Any) -> EventSource:
    """The source of `event`; raise UnsupportedEvent, naming the event, if it is not HTTP."""
    source = source_for(event)
    if source is None:
        raise UnsupportedEvent(f"this function answers {SUPPORTED}; got {describe(event)}")
    return source


__all__ = ["SOURCES", "EventSource", "describe", "require_http", "source_for"]
