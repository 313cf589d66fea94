"""docs/how-to/images.md run as written: `slipway example --image`, then, against `slipway
serve --model digit-pictures@1` (started by the test: the page's serve block runs until
Ctrl-C), every shell and Python block in page order in a scratch directory (the pictures they
write), each checked against the output the page shows for it."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.docs.blocks import localize, runnable
from tests.docs.test_examples import SLIPWAY, check_output, execute
from tests.infra.local.serving import REPO, serve

pytestmark = pytest.mark.integration  # slipway example --image and slipway serve: processes

PAGE = "docs/how-to/images.md"
UNSERVED = "https://127.0.0.1:8443"  # what a block that needs the platform names


def here(code: str, url: str, state: Path) -> str:
    """A block as this test runs it: its server, state and interpreter."""
    code = re.sub(r"(?<![\w/])\.venv/bin/python\b", shlex.quote(sys.executable), code)
    return localize(code, url=url, state=state, slipway=SLIPWAY)


@pytest.mark.timeout(1200)  # trains the image example, and may build the layer
def test_the_images_page_runs_as_written(tmp_path: Path) -> None:
    blocks = runnable(REPO / PAGE, REPO)
    ran = [b for b in blocks if b.skip is None]
    first_served = next(i for i, b in enumerate(ran) if UNSERVED in b.code)
    assert first_served > 0 and "example --image" in ran[0].code
    work, models = tmp_path / "work", tmp_path / "models"
    work.mkdir()
    env = {**os.environ, "SLIPWAY_STORE": str(models)}
    for block in ran[:first_served]:  # before the platform: the example is registered
        code = here(block.code, UNSERVED, tmp_path / "unused")
        printed = execute(block, code, env, work, work)
        if block.output is not None:
            check_output(block, printed)
    with serve(models, tmp_path / "platform", "--model", "digit-pictures@1") as served:
        for block in ran[first_served:]:
            code = here(block.code, served.url, served.state)
            printed = execute(block, code, served.env, work, work)
            if block.output is not None:
                check_output(block, printed)
    assert sum(b.output is not None for b in ran) >= 5  # every answer shown is checked
