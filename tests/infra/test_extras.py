"""A missing optional package is named with the extra that installs it (infra/extras.py)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata as metadata_module
from pathlib import Path

import pytest

from infra import extras

REPO = Path(__file__).resolve().parents[2]


def _requires_from_pyproject() -> list[str]:
    """Requires-Dist lines as pip writes them into slipway's metadata, from pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra, reqs in project["optional-dependencies"].items():
        for req in reqs:
            marker = f'extra == "{extra}"'
            lines.append(f"{req} and {marker}" if ";" in req else f"{req}; {marker}")
    return lines


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata_module, "requires", lambda name: _requires_from_pyproject())


@pytest.mark.parametrize(
    ("module", "extra", "dist"),
    [
        ("boto3", "aws", "boto3"),
        ("torch", "torch", "torch"),
        ("keras", "keras", "keras"),
        ("yaml", "cloudrun", "pyyaml"),
        ("google.cloud", "cloudrun", "google-cloud-run"),
        ("locust", "bench", "locust"),
        ("pandas", "convert", "pandas"),
        ("xgboost", "convert", "xgboost-cpu"),
        ("sklearn", "sklearn", "scikit-learn"),
        ("skl2onnx.common", "sklearn", "skl2onnx"),
        ("mkdocs", "docs", "mkdocs"),
        ("uv", "dev", "uv"),
    ],
)
def test_the_smallest_extra_that_brings_the_module(
    metadata: None, module: str, extra: str, dist: str
) -> None:
    assert extras.extra_for(module) == (extra, dist)


def test_every_optional_requirement_is_found_in_an_extra_that_lists_it(metadata: None) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    by_dist = extras.extras_by_distribution()
    for extra, reqs in project["optional-dependencies"].items():
        for req in reqs:
            name = re.split(r"[ <>=!~;\[]", req, maxsplit=1)[0].lower()
            if name != "slipway":
                assert extra in by_dist[name], (extra, name)
    # `convert` brings what `sklearn` does (a self-reference).
    assert "convert" in by_dist["scikit-learn"]


def test_a_project_module_or_an_unknown_package_is_not_hinted(metadata: None) -> None:
    assert extras.missing_hint(ModuleNotFoundError("x", name="infra.nope")) is None
    assert extras.missing_hint(ModuleNotFoundError("x", name="no_such_package")) is None
    hint = extras.missing_hint(ModuleNotFoundError("x", name="boto3"))
    assert hint == "boto3 is not installed: pip install -e '.[aws]'"


def test_the_cli_answers_a_missing_extra_in_one_line(
    metadata: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra import cli

    def needs_boto3(args: object) -> int:
        raise ModuleNotFoundError("No module named 'boto3'", name="boto3")

    class Parser:
        def parse_args(self, argv: object) -> object:
            return type("Args", (), {"command": "status", "func": staticmethod(needs_boto3)})()

    monkeypatch.setattr(cli, "parser", Parser)
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().err == (
        "slipway status: error: boto3 is not installed: pip install -e '.[aws]'\n"
    )


def test_without_slipway_installed_nothing_is_hinted(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> list[str]:
        raise metadata_module.PackageNotFoundError(name)

    monkeypatch.setattr(metadata_module, "requires", missing)
    assert extras.missing_hint(ModuleNotFoundError("x", name="boto3")) is None
