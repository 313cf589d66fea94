"""The documentation site: built strict from this checkout, every page in the nav, nothing
loaded from another host, and the generated reference holding what the code has."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from tests.docs.hookpath import hooks_on_path

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    # Strict fails on warnings; say so for anything else a build prints but INFO.
    noisy = [ln for ln in log.splitlines() if ln.strip() and not ln.startswith("INFO")]
    assert noisy == [], noisy
    return out


def nav_pages() -> list[str]:
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    found: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(config["nav"])
    return found


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    pages = nav_pages()
    assert len(pages) >= 30
    for page in pages:
        assert (site / page.replace(".md", ".html")).is_file(), page
    # And every page under docs/ is in the nav (bench's reports included).
    on_disk = {
        str(p.relative_to(REPO / "docs"))
        for p in (REPO / "docs").rglob("*.md")
        if "hooks" not in p.parts
    }
    assert on_disk <= set(pages), sorted(on_disk - set(pages))


class Assets(HTMLParser):
    """What a page loads: scripts, stylesheets, icons, images, frames (not the links a reader
    may follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video") and a.get("src"):
            self.loaded.append(a["src"] or "")
        if tag == "link" and a.get("href") and a.get("rel") != "canonical":
            self.loaded.append(a["href"] or "")


def test_the_site_loads_nothing_from_another_host(site: Path) -> None:
    external = re.compile(r"^(?:[a-z]+:)?//", re.I)
    for html in site.rglob("*.html"):
        parser = Assets()
        parser.feed(html.read_text())
        outside = [u for u in parser.loaded if external.match(u)]
        assert outside == [], (html.relative_to(site), outside)
    for css in site.rglob("*.css"):
        imports = re.findall(r"@import\s+(?:url\()?['\"]?([^'\")\s]+)", css.read_text())
        urls = re.findall(r"url\(['\"]?((?:https?:)?//[^'\")]+)", css.read_text())
        assert [u for u in imports if external.match(u)] + urls == [], css.relative_to(site)
    # Search works from file:// too: the offline plugin's inlined index.
    assert (site / "search" / "search_index.js").is_file()


def _text(path: Path) -> str:
    return re.sub(r"<[^>]+>", " ", path.read_text())


def test_the_generated_reference_is_in_the_built_pages(site: Path) -> None:
    with hooks_on_path():
        from slipway_docs import cli, code

        commands = cli.commands(cli.slipway_parser())
        settings = code.settings()
        errors = code.errors()
        params = code.serverless_parameters()
    page = (site / "reference" / "cli.html").read_text()
    for command in commands:
        assert f'id="{command.anchor}"' in page, command.name
        for action in command.parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                found = re.search(rf"<code>[^<]*{re.escape(flag)}(?![\w-])", page)
                assert found, (command.name, flag)
    configuration = _text(site / "reference" / "configuration.html")
    assert all(s["variable"] in configuration for s in settings)
    statuses = _text(site / "reference" / "errors.html")
    assert all(e["code"] in statuses for e in errors if e["code"])
    serverless = _text(site / "reference" / "serverless-yml.html")
    assert all(p["name"] in serverless for p in params)


def test_the_http_reference_is_the_functions_own_openapi(site: Path) -> None:
    document = json.loads((site / "reference" / "openapi.json").read_text())
    assert document["info"]["title"] and "/predict" in document["paths"]
    page = (site / "reference" / "http-api.html").read_text()
    for path, ops in document["paths"].items():
        for method in ops:
            assert f"{method.upper()} {path}" in page, (method, path)
