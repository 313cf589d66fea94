"""MkDocs hook: fills the reference pages' `<!-- reference: NAME -->` markers from the code.

NAME is `cli` (the argparse parser), `http` (the example model's /openapi.json), `settings`,
`errors`, `exit-codes`, `serverless`, or `constants PACKAGE:NAME,NAME` (named limits, found in
whichever module of PACKAGE defines them). An unknown marker fails the build. Also writes the
OpenAPI document itself as reference/openapi.json.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HOOKS = Path(__file__).resolve().parent
REPO = HOOKS.parents[1]
sys.path.insert(0, str(HOOKS))

from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402
from slipway_docs import cli, code, http  # noqa: E402

MARKER = re.compile(r"^<!-- reference: ([a-z-]+)(?: ([^>]*?))? -->$", re.M)
_openapi: dict[str, Any] | None = None


def openapi() -> dict[str, Any]:
    """Made once per build (training the example and invoking the function take seconds)."""
    global _openapi
    if _openapi is None:
        _openapi = http.openapi()
    return _openapi


def generate(name: str, arg: str | None) -> str:
    # MkDocs restores sys.path after loading a hook: document this checkout's code, first on
    # the path, whatever an installed slipway points at.
    if sys.path[0] != str(REPO):
        sys.path.insert(0, str(REPO))
    if name == "cli":
        return cli.render(cli.slipway_parser())
    if name == "http":
        return http.render(openapi())
    if name == "constants" and arg:
        return code.render_constants(arg)
    if name in code.GENERATED:
        text: str = code.GENERATED[name]()
        return text
    raise PluginError(f"unknown reference marker: {name} {arg or ''}".strip())


def on_pre_build(config: Any) -> None:
    global _openapi
    _openapi = None  # `mkdocs serve` rebuilds: read the code again


def on_files(files: Files, config: Any) -> Files:
    document = json.dumps(openapi(), indent=2, ensure_ascii=False) + "\n"
    files.append(File.generated(config, "reference/openapi.json", content=document))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    def fill(match: re.Match[str]) -> str:
        try:
            return generate(match.group(1), match.group(2))
        except PluginError:
            raise
        except Exception as exc:  # the page names what failed, the build stops
            raise PluginError(f"{page.file.src_uri}: reference {match.group(0)}: {exc}") from exc

    return MARKER.sub(fill, markdown)
