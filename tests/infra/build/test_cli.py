from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.build.builder import PROJECT_ROOT
from infra.build.layer import cache_key
from infra.build.platforms import BuildTarget
from infra.build.zipper import iter_tree, write_zip
from infra.cli import main


def seed_layer(out: Path, target: BuildTarget) -> None:
    """Seed the layer cache for the repository's lock, so no wheel is downloaded."""
    site = out.parent / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("x = 1\n")
    layer_zip = out / target.name / "layer.zip"
    sha = write_zip(iter_tree(site, "python/"), layer_zip)
    lock_text = (PROJECT_ROOT / "layers" / "requirements.txt").read_text()
    key = {"key": cache_key(lock_text, target), "sha256": sha}
    (layer_zip.parent / "layer.key.json").write_text(json.dumps(key))


def test_slipway_build_prints_the_size_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = BuildTarget("x86_64", "3.12")
    seed_layer(tmp_path / "out", target)

    argv = ["build", "--arch", "x86_64", "--python", "3.12", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "slipway build: python3.12 x86_64" in out.out
    assert "of 250.0 MB" in out.out and out.out.rstrip().endswith("OK")
    assert "reusing" in out.err
    assert (tmp_path / "out" / "3.12-x86_64" / "function.zip").is_file()


def test_a_target_outside_the_lock_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--arch", "x86_64", "--python", "3.10"]) == 1
    assert "no hashes for 3.10-x86_64" in capsys.readouterr().err
