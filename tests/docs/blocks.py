"""The code blocks of a Markdown page, as the docs tests run them.

A ```sh or ```python block is run unless the line right above it is
`<!-- docs-test: skip (why) -->`; a ```json or ```text block right after a run block is what
that block prints (checked against what it printed). Commands are written for a reader's
checkout (`.venv/bin/slipway`, `.slipway/`, port 8443); `localize` points them at the test's
own `slipway serve`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```$", re.M | re.S)
SKIP = re.compile(r"<!-- docs-test: skip \((.+?)\) -->\s*$")
RUN = ("sh", "bash", "python")
OUTPUT = ("json", "text")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str
    skip: str | None = None  # the reason, for a run block that is not run
    output: Block | None = None  # the block showing what this one prints

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def commands(self) -> int:
        """Commands in a shell block (continuation lines joined, comments and blanks left out);
        a Python block counts as one."""
        if self.lang == "python":
            return 1
        joined = self.code.replace("\\\n", " ")
        return sum(
            1 for ln in joined.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
        )


def blocks(path: Path, root: Path) -> list[Block]:
    text = path.read_text()
    out: list[Block] = []
    previous_end = 0
    for match in FENCE.finditer(text):
        before = text[: match.start()]
        line = before.count("\n") + 1
        lang = match.group(1)
        block = Block(str(path.relative_to(root)), line, lang, match.group(2))
        above = before.rstrip("\n").rsplit("\n", 1)[-1]
        if skip := SKIP.search(above):
            block.skip = skip.group(1)
        between = text[previous_end : match.start()]
        last = out[-1] if out else None
        if (
            lang in OUTPUT
            and last is not None
            and last.lang in RUN
            and last.output is None
            and not between.strip()
        ):
            last.output = block
        out.append(block)
        previous_end = match.end()
    return out


def runnable(path: Path, root: Path) -> list[Block]:
    return [b for b in blocks(path, root) if b.lang in RUN]


def localize(code: str, *, url: str, state: Path, slipway: str) -> str:
    """The reader's paths and port, as the test's server has them."""
    code = code.replace("https://127.0.0.1:8443", url)
    code = code.replace(".venv/bin/slipway", slipway)
    return re.sub(r"(?<![\w/])\.slipway/", f"{state}/", code)


HEX = re.compile(r"\b[0-9a-f]{12,64}\b")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\+00:00|Z)")


def masked(line: str) -> str:
    """A line with its digests and timestamps blanked (they differ from run to run)."""
    return TIME.sub("<time>", HEX.sub("<hex>", " ".join(line.split())))


def shown_lines(output: str) -> list[str]:
    """The lines of a documented output to find in a real one (`…` marks what is left out)."""
    return [masked(ln) for ln in output.splitlines() if ln.strip() and "…" not in ln]
