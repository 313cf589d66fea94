"""The console in headless Chromium (loopback only) during a 50/50 canary under load.

`slipway release --steps 0.5,1` runs in the background; while it watches the 0.5 step, four
clients post predictions. The page must show both versions and the release's step, and the
2xx counts it shows per version must agree with the load generator's within 5%. Then the
try-it form sends the manifest's example through the gateway and shows the version headers.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

from infra import servers
from tests.browser.cdp import Chromium, off_loopback
from tests.browser.conftest import SCREENSHOTS
from tests.infra.local.serving import REPO, SLIPWAY, Load, Served

WAIT_S = 30  # each step's watch: the load runs inside the 0.5 step's
LOAD_S = 10

TOTALS = (
    "Object.fromEntries([...document.querySelectorAll('#traffic tr[data-version]')].map(r => "
    "[r.dataset.version, Number(r.querySelector('.total-ok').textContent)]))"
)
CANARY = "(document.querySelector('#canary [data-alias=\"live\"]') || {}).textContent || ''"
VERSIONS = (
    "[...document.querySelectorAll('#versions tr[data-version]')].map(r => "
    "r.dataset.version + ' ' + r.querySelector('.model').textContent)"
)


async def _fresh(browser: Chromium, expression: str) -> Any:
    """`expression` after the page has rendered two more snapshots (at least one new one)."""
    seen = await browser.eval("document.querySelector('#updated').textContent")
    for _ in range(2):
        seen = await browser.wait_for(
            f"(t => t !== {json.dumps(seen)} && t)(document.querySelector('#updated').textContent)",
            timeout=10,
            every=0.1,
        )
    return await browser.eval(expression)


def test_console_shows_a_canary_under_load_and_counts_like_the_load(
    served: Served, example_manifest, tmp_path
) -> None:
    served.cli("example", "--seed", "1")  # digits@2 in the store
    log = tmp_path / "release.log"

    async def scenario() -> None:
        async with Chromium() as browser:
            await browser.goto(served.url + "/_slipway/")
            await browser.wait_for(
                "!!document.querySelector('#versions tr[data-version=\"1\"]')", 30
            )
            with log.open("wb") as out:
                release = subprocess.Popen(
                    [*SLIPWAY, "release", "--model", "digits@2", "--steps", "0.5,1",
                     "--wait", str(WAIT_S), "--poll", "1"],
                    env=served.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            try:
                await _during_the_canary(browser, release, log)
                rc = await asyncio.to_thread(release.wait, WAIT_S + 120)
                assert rc == 0, log.read_text()
            finally:
                servers.stop(release)
            await browser.wait_for(
                "document.querySelector('#canary').textContent.includes('no alias is routing')", 15
            )
            await _try_it(browser)
            assert off_loopback(browser.requests) == []
            assert browser.failures == [] and browser.console_errors == []

    async def _during_the_canary(
        browser: Chromium, release: subprocess.Popen[bytes], log: Any
    ) -> None:
        try:
            canary = await browser.wait_for(f"(t => t.includes('step 1 of 2') && t)({CANARY})", 300)
        except Exception:
            raise AssertionError(
                f"no canary step on the page; release: {log.read_text()}"
            ) from None
        assert "version 2 takes 50% beside version 1" in canary, canary
        assert await browser.eval(VERSIONS) == ["1 digits@1", "2 digits@2"]
        before = await _fresh(browser, TOTALS)
        with Load(served, example_manifest.example) as load:
            await asyncio.sleep(LOAD_S)
            await browser.screenshot(SCREENSHOTS / "console-canary.png")  # both under load
        after = await _fresh(browser, TOTALS)
        assert release.poll() is None, "the release ended before the load did"
        assert "step 1 of 2" in await browser.eval(CANARY)  # still the 50/50 step
        assert not load.failures, load.failures[:5]
        sent: dict[str, int] = {}
        for _, version in load.versions:
            sent[version] = sent.get(version, 0) + 1
        assert set(sent) == {"1", "2"}, sent
        shown = {v: after.get(v, 0) - before.get(v, 0) for v in sent}
        for version, n in sent.items():
            assert abs(shown[version] - n) <= 0.05 * n, (shown, sent)
        print(f"load 2xx per version {sent}; console shows {shown}")

    async def _try_it(browser: Chromium) -> None:
        body = await browser.eval("document.querySelector('#try-body').value")
        assert json.loads(body) == example_manifest.example  # prefilled from the manifest
        await browser.eval("document.querySelector('#try-send').click()")
        status = await browser.wait_for(
            "(t => /^\\d{3} in/.test(t) && t)(document.querySelector('#try-status').textContent)",
            30,
        )
        assert status.startswith("200 in"), status
        headers = await browser.eval(
            "Object.fromEntries([...document.querySelectorAll('#try-headers tr')].map(r => "
            "[r.dataset.header, r.querySelector('td').textContent]))"
        )
        # The release is over: live is version 2, which pins digits@2.
        assert headers["x-model-version"] == "2" and headers["x-slipway-function-version"] == "2"
        shown = json.loads(
            await browser.eval("document.querySelector('#try-response').textContent")
        )
        assert shown["model"] == {"name": "digits", "version": 2}

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 400
