"""The generated reference against the code it is read from (in process): nothing the code has
is left out, and what the pages say a value is, the code does."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docs.hookpath import HOOKS, hooks_on_path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def gen() -> Any:
    with hooks_on_path():
        from slipway_docs import cli, code

        yield type("Generators", (), {"cli": cli, "code": code})


def test_every_command_and_flag_is_in_the_cli_reference(gen: Any) -> None:
    from infra.cli import parser

    top = parser()
    markdown = gen.cli.render(top)
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 15
    for name in sub.choices:
        assert f"## `slipway {name}` {{#slipway-{name}}}" in markdown, name
    for command in gen.cli.commands(top):
        for action in command.parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            for flag in action.option_strings or [action.metavar or action.dest]:
                assert f"`{flag}" in markdown or f", {flag}" in markdown, (command.name, flag)
    # Nested commands (alias set, image push, cloudrun manifest) have their own sections.
    assert "## `slipway alias set`" in markdown


def test_every_setting_of_config_py_with_the_default_and_range_the_code_applies(gen: Any) -> None:
    from functions.predict import config
    from functions.predict.exceptions import ConfigError

    source = (REPO / "functions" / "predict" / "config.py").read_text()
    named = set(re.findall(r'^[A-Z_0-9]+ = "([A-Z][A-Z0-9_]+)"', source, re.M))
    rows = {s["variable"]: s for s in gen.code.settings()}
    assert named and set(rows) == named
    defaults = config.Settings.from_mapping({})
    for row in rows.values():
        if not row["setting"]:
            continue
        assert getattr(defaults, row["setting"]) == row["default"], row
        if m := re.match(r"a whole number in \[(\d+), (\d+)\]", row["accepted"]):
            low, high = int(m.group(1)), int(m.group(2))
            value = config.Settings.from_mapping({row["variable"]: str(high)})
            assert getattr(value, row["setting"]) == high
            for outside in (low - 1, high + 1):
                with pytest.raises(ConfigError):
                    config.Settings.from_mapping({row["variable"]: str(outside)})


def test_the_configuration_page_explains_every_variable_the_code_reads(gen: Any) -> None:
    page = (DOCS / "reference" / "configuration.md").read_text()
    prose = page.replace("<!-- reference: settings -->", "")
    for row in gen.code.settings():
        assert f"`{row['variable']}`" in prose, row["variable"]
    used: set[str] = set()
    for package in ("functions", "infra", "model_store"):
        for path in (REPO / package).rglob("*.py"):
            used |= set(re.findall(r'"(SLIPWAY_[A-Z0-9_]+)"', path.read_text()))
    missing = sorted(v for v in used if v not in page)
    assert not missing, f"SLIPWAY_ variables the code reads, not on configuration.md: {missing}"


def test_every_error_class_is_in_the_error_table(gen: Any) -> None:
    from functions.predict import exceptions

    rows = {e["name"]: e for e in gen.code.errors()}
    for obj in vars(exceptions).values():
        if isinstance(obj, type) and issubclass(obj, exceptions.PredictError):
            assert obj.__name__ in rows
            if issubclass(obj, exceptions.HTTPError) and obj is not exceptions.HTTPError:
                assert (rows[obj.__name__]["status"], rows[obj.__name__]["code"]) == (
                    obj.status,
                    obj.code,
                )
    markdown = gen.code.render_errors()
    assert "| **422** | `invalid_input` | `InvalidInput` |" in markdown


def test_the_exit_codes_are_the_release_verbs_own(gen: Any) -> None:
    from infra.release import verbs

    markdown = gen.code.render_exit_codes()
    for kind, code, result in verbs.EXIT_CODES:
        assert f"| {code} | `{result}` | `{kind.__name__}` |" in markdown


def test_every_serverless_parameter_is_documented_with_its_default(gen: Any) -> None:
    text = (REPO / "serverless.yml").read_text()
    documented = {p["name"]: p for p in gen.code.serverless_parameters()}
    used = set(re.findall(r"\$\{param:(\w+)", text))
    for js in (REPO / "infra" / "build").glob("osls_*.js"):
        used |= set(re.findall(r"""param[s]?\s*(?:\.|\[['"])(\w+)""", js.read_text()))
    defaults = yaml.safe_load(text)["params"]["default"]
    assert set(defaults) <= set(documented)
    assert used - {"default"} <= set(documented), sorted(used - set(documented))
    for name, value in defaults.items():
        shown = documented[name]["default"]
        assert shown == ("''" if value == "" else str(value)), (name, shown, value)
    outputs = {name for name, _, _ in gen.code.serverless_outputs()}
    assert {"HttpApiUrl", "ModelStoreUri", "FlaskApiUrl"} <= outputs


def test_named_limits_are_found_where_they_are_defined(gen: Any) -> None:
    module, value, note = gen.code.constant("infra.local", "MAX_REQUEST_BYTES")
    from infra.local import apigw

    assert (module, value) == ("infra.local.apigw", apigw.MAX_REQUEST_BYTES) and note
    with pytest.raises(LookupError):
        gen.code.constant("infra.local", "NO_SUCH_LIMIT")


def markers() -> list[tuple[str, str, str | None]]:
    with hooks_on_path():
        import reference

        pattern = reference.MARKER
    found = []
    for page in DOCS.rglob("*.md"):
        for m in pattern.finditer(page.read_text()):
            found.append((str(page.relative_to(DOCS)), m.group(1), m.group(2)))
    return found


@pytest.mark.parametrize(("page", "name", "arg"), markers())
def test_every_marker_of_a_page_generates(page: str, name: str, arg: str | None) -> None:
    if name == "http":
        pytest.skip("the HTTP reference runs `slipway invoke` (test_site builds it)")
    with hooks_on_path():
        import reference

        assert reference.generate(name, arg).strip(), (page, name)


def test_an_unknown_marker_fails_the_build() -> None:
    with hooks_on_path():
        import reference
        from mkdocs.exceptions import PluginError

        with pytest.raises(PluginError):
            reference.generate("nope", None)


def test_the_readme_is_short_and_its_links_resolve() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
        if not re.match(r"^[a-z]+:", target):
            assert (REPO / target).exists(), target
    assert HOOKS.is_dir()
