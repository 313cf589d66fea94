"""The gateway's reserved path, as API Gateway has its own: /_slipway/ never reaches the function.

`slipway serve` attaches the console there (`infra.local.console.routes.Console`, a `Reserved`);
without it (--no-console) the path stays the gateway's and answers 404.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from infra.local import apigw

RESERVED = "/_slipway"  # the gateway's own path: never routed to the function


class Reserved(Protocol):
    """What answers on the reserved path (`infra.local.console.routes.Console`)."""

    @property
    def measure(self) -> Middleware:
        """Sees every request the gateway answers."""
        ...

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Its routes under RESERVED, added before the function's catch-all route."""
        ...


async def console_off(request: web.Request) -> web.StreamResponse:
    """The path stays the gateway's with --no-console: it is never routed to the function."""
    return json_error(
        404, f"the console is off (slipway serve --no-console); {RESERVED}/ is reserved"
    )


def json_error(status: int, message: str) -> web.Response:
    """An error the gateway itself answers, in API Gateway's shape."""
    response = apigw.gateway_error(status, message)
    return web.Response(status=status, body=response.body, content_type="application/json")
