"""The getting-started examples that need no cloud account, run as written against
`slipway serve` on loopback (the README's and the local quickstart's): every shell and Python
block, in page order, each checked against the output the page shows for it."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docs.blocks import Block, localize, masked, runnable, shown_lines
from tests.infra.local.serving import REPO, Served, serve

PAGES = ("README.md", "docs/getting-started/local.md")
# `python -m infra` from this checkout (as tests/infra/local/serving does): the console script
# would import whatever checkout the venv was installed from.
SLIPWAY = f"{shlex.quote(sys.executable)} -m infra"
TIMEOUT_S = 300


@pytest.fixture(scope="module", params=PAGES)
def served(
    request: pytest.FixtureRequest, example_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Served]]:
    """A fresh `slipway serve` for each page: its blocks run in order against it."""
    with serve(example_store, tmp_path_factory.mktemp("docs-platform")) as s:
        yield request.param, s


def run(block: Block, served: Served, tmp: Path) -> str:
    code = localize(block.code, url=served.url, state=served.state, slipway=SLIPWAY)
    return execute(block, code, served.env, REPO, tmp)


def execute(block: Block, code: str, env: dict[str, str], cwd: Path, tmp: Path) -> str:
    """Run a block's (localized) code in `cwd`, a Python block as a script in `tmp`; what it
    printed, or the test fails with it."""
    env = {**env, "SLIPWAY_PROGRESS": "plain"}
    if block.lang == "python":
        script = tmp / f"block_{block.line}.py"
        script.write_text(code)
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-e", "-o", "pipefail", "-c", code]
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, f"{block.where} exited {done.returncode}:\n{done.stdout[-3000:]}"
    return done.stdout


def same_shape(shown: Any, got: Any, where: str) -> None:
    """JSON the page shows against JSON the command printed: the same keys, labels, model and
    numbers (to float32's precision)."""
    assert type(shown) is type(got) or {type(shown), type(got)} <= {int, float}, where
    if isinstance(shown, dict):
        assert shown.keys() == got.keys(), where
        for key in shown:
            same_shape(shown[key], got[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert len(shown) == len(got), where
        for i, (a, b) in enumerate(zip(shown, got, strict=True)):
            same_shape(a, b, f"{where}[{i}]")
    elif isinstance(shown, float):
        assert got == pytest.approx(shown, rel=1e-4, abs=1e-6), where
    else:
        assert shown == got, where


def check_output(block: Block, printed: str) -> None:
    assert block.output is not None
    if block.output.lang == "json":
        last = printed.strip().splitlines()[-1]
        same_shape(json.loads(block.output.code), json.loads(last), block.output.where)
        return
    got = {masked(line) for line in printed.splitlines()}
    missing = [line for line in shown_lines(block.output.code) if line not in got]
    assert not missing, f"{block.output.where}: not printed: {missing}\nprinted:\n{printed}"


@pytest.mark.timeout(900)  # the first `slipway serve` of a fresh clone builds the layer
def test_the_page_runs_as_written(served: tuple[str, Served], tmp_path: Path) -> None:
    page, server = served
    blocks = runnable(REPO / page, REPO)
    ran = [b for b in blocks if b.skip is None]
    assert ran, f"{page}: no block to run"
    for block in ran:
        printed = run(block, server, tmp_path)
        if block.output is not None:
            check_output(block, printed)
    # Every block left out says why (a cloud account, an install): nothing is silently untested.
    assert all(b.skip for b in blocks if b not in ran)
