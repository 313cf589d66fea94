"""An image model behind `slipway serve`, in headless Chromium (loopback only): the console's
try-it form uploads photos (one as the body, two as a multipart form) and shows the labels the
model gives, equal to the PyTorch model's own on torchvision's preprocessing; /docs shows the
image request forms for POST /predict."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.cdp import Chromium, off_loopback
from tests.browser.conftest import SCREENSHOTS
from tests.image_models import ImageModel, ImageModels
from tests.infra.local.serving import Served, serve

pytestmark = pytest.mark.integration

LABELS = (
    "[...document.querySelectorAll('#try-labels tr')].map(r => [r.children[0].textContent, "
    "r.dataset.label, Number(r.querySelector('td.num').textContent)])"
)
STATUS = "(t => /^\\d{3} in/.test(t) && t)(document.querySelector('#try-status').textContent)"


@pytest.fixture(scope="module")
def image_served(
    image_models: ImageModels, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ImageModel, Served]]:
    model = image_models.models["pytorch"]
    root = tmp_path_factory.mktemp("console-image")
    with serve(image_models.store, root, "--model", model.ref) as served:
        yield model, served


async def choose_files(browser: Chromium, paths: list[Path]) -> None:
    """Files into the form's file input, as a person choosing them in the dialog does."""
    found = await browser.call("Runtime.evaluate", expression="document.querySelector('#try-file')")
    await browser.call(
        "DOM.setFileInputFiles", files=[str(p) for p in paths], objectId=found["result"]["objectId"]
    )


async def send(browser: Chromium) -> str:
    await browser.eval("document.querySelector('#try-status').textContent = ''")
    await browser.eval("document.querySelector('#try-send').click()")
    status: str = await browser.wait_for(STATUS, 30)
    return status


def check_shown(model: ImageModel, shown: list[Any], keys: list[str]) -> None:
    """The label table against the framework's scores: per image, best first, within the
    recorded tolerance."""
    for i, key in enumerate(keys):
        rows = [r for r in shown if r[0] in ("", f"#{i + 1}")]
        want = model.reference[key]
        assert [r[1] for r in rows][0] == model.labels[int(want.argmax())], (key, rows)
        for _, label, score in rows:  # shown to 4 decimals
            assert abs(score - want[model.labels.index(label)]) <= model.atol + 5e-5, (key, rows)


def test_console_uploads_images_and_shows_the_labels(
    image_served: tuple[ImageModel, Served], image_models: ImageModels, tmp_path: Path
) -> None:
    model, served = image_served
    photo, other = tmp_path / "china.jpg", tmp_path / "flower.webp"
    photo.write_bytes(image_models.items["0-jpeg"])
    other.write_bytes(image_models.items["1-webp"])

    async def scenario() -> None:
        async with Chromium() as browser:
            await browser.goto(served.url + "/_slipway/")
            # The snapshot says the live model takes images: the form shows its file input.
            await browser.wait_for("!document.querySelector('#try-files').hidden", 30)
            await choose_files(browser, [photo])
            await browser.wait_for("document.querySelectorAll('#try-preview img').length", 10)
            assert (await send(browser)).startswith("200 in")
            shown = await browser.wait_for(f"(r => r.length && r)({LABELS})", 10)
            assert len(shown) == len(model.labels)  # top 5 of 5
            check_shown(model, shown, ["0-jpeg"])
            headers = await browser.eval(
                "Object.fromEntries([...document.querySelectorAll('#try-headers tr')].map(r => "
                "[r.dataset.header, r.querySelector('td').textContent]))"
            )
            assert headers["x-model-name"] == model.name
            await browser.screenshot(SCREENSHOTS / "console-image.png")

            await choose_files(browser, [photo, other])  # several: a multipart upload
            assert (await send(browser)).startswith("200 in")
            shown = await browser.wait_for(f"(r => r.some(x => x[0] === '#2') && r)({LABELS})", 10)
            check_shown(model, shown, ["0-jpeg", "1-webp"])

            await browser.eval("document.querySelector('#try-clear').click()")
            assert not await browser.eval("document.querySelectorAll('#try-preview img').length")
            # No file: the JSON body is sent (the manifest's example, Hugging Face's form).
            assert (await send(browser)).startswith("200 in")
            assert len(await browser.eval(LABELS)) == len(model.labels)

            bad = tmp_path / "notes.jpg"  # named like a photo, sent as image/jpeg: text
            bad.write_text("not a picture")
            await choose_files(browser, [bad])
            assert (await send(browser)).startswith("415 in")
            assert await browser.eval("document.querySelector('#try-labels').hidden")
            answer = await browser.eval("document.querySelector('#try-response').textContent")
            assert "unsupported_image" in answer and "text starting" in answer, answer
            assert off_loopback(browser.requests) == []
            assert browser.failures == [] and browser.console_errors == []

    asyncio.run(scenario())


def test_docs_show_the_image_forms(image_served: tuple[ImageModel, Served]) -> None:
    _, served = image_served

    async def scenario() -> None:
        async with Chromium() as browser:
            reply = await browser.goto(served.url + "/docs")
            assert not reply.get("errorText"), reply
            await browser.wait_for("!!document.querySelector('.opblock-post')", 60)
            assert not await browser.eval("!!document.querySelector('.errors-wrapper')")
            await browser.eval(
                "document.querySelector('.opblock-post .opblock-summary-control').click()"
            )
            types = await browser.wait_for(
                "(o => o.length && o)([...document.querySelectorAll("
                "'.opblock-post .opblock-section-request-body select option')]"
                ".map(o => o.value))",
                30,
            )
            assert {"image/*", "multipart/form-data", "application/json"} <= set(types), types
            body = await browser.eval(
                "document.querySelector('.opblock-post .opblock-body').textContent"
            )
            assert "Predict from images" in await browser.eval("document.body.textContent")
            assert "label" in body and "score" in body  # the answer's schema
            assert off_loopback(browser.requests) == []
            assert browser.failures == [] and browser.console_errors == []

    asyncio.run(scenario())
