"""/docs in headless Chromium with no host but loopback resolvable: Swagger UI renders offline,
on the local platform (HTTPS through the gateway) and in the container image's HTTP mode."""

from __future__ import annotations

import asyncio

from tests.browser.cdp import Chromium, off_loopback
from tests.browser.conftest import SCREENSHOTS
from tests.infra.local.serving import Served

OPERATIONS = (
    "[...document.querySelectorAll('.opblock')].map(o => "
    "o.className.split(' ').filter(c => c.startsWith('opblock-'))[0] + ' ' + "
    "o.querySelector('.opblock-summary-path').textContent).join('|')"
)


def test_swagger_ui_renders_post_predict_offline(served: Served) -> None:
    async def scenario() -> None:
        async with Chromium() as browser:
            # The rule is in force: a public host does not resolve for this browser.
            outside = await browser.goto("https://example.com/")
            assert outside.get("errorText") == "net::ERR_NAME_NOT_RESOLVED", outside
            browser.requests.clear()
            browser.failures.clear()

            reply = await browser.goto(served.url + "/docs")
            assert not reply.get("errorText"), reply
            operations = await browser.wait_for(OPERATIONS, timeout=60)
            assert "opblock-post /predict" in operations.split("|"), operations
            assert not await browser.eval("!!document.querySelector('.errors-wrapper')")
            # Open POST /predict: its request body example comes from the model's manifest.
            await browser.eval(
                "document.querySelector('.opblock-post .opblock-summary-control').click()"
            )
            body = await browser.wait_for(
                "(document.querySelector('.opblock-post .opblock-body') || {}).textContent", 30
            )
            assert '"inputs"' in body and "Request body" in body
            await browser.screenshot(SCREENSHOTS / "docs-offline.png")

            loaded = set(browser.requests)
            assert {
                served.url + "/docs/assets/swagger-ui-bundle.js",
                served.url + "/openapi.json",
            } <= loaded
            assert off_loopback(browser.requests) == []
            assert browser.failures == [] and browser.console_errors == []

    asyncio.run(scenario())


def test_swagger_ui_renders_offline_in_the_image_http_mode(image_url: str) -> None:
    async def scenario() -> None:
        async with Chromium() as browser:
            reply = await browser.goto(image_url + "/docs")
            assert not reply.get("errorText"), reply
            operations = await browser.wait_for(OPERATIONS, timeout=60)
            assert "opblock-post /predict" in operations.split("|"), operations
            assert image_url + "/docs/assets/swagger-ui-bundle.js" in browser.requests
            assert off_loopback(browser.requests) == []
            assert browser.failures == [] and browser.console_errors == []

    asyncio.run(scenario())
