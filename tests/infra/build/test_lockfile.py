from __future__ import annotations

from pathlib import Path

import pytest

from infra.build.exceptions import LockError
from infra.build.lockfile import check_covers, locked_targets, merge, parse_report, render
from infra.build.platforms import BuildTarget

REPO_LOCK = Path(__file__).resolve().parents[3] / "layers" / "requirements.txt"


def _item(name: str, version: str, sha: str) -> dict:
    return {
        "metadata": {"name": name, "version": version},
        "download_info": {"archive_info": {"hashes": {"sha256": sha}}},
    }


def test_parse_and_merge_union_hashes_across_targets() -> None:
    arm = parse_report({"install": [_item("NumPy", "2.4.6", "a1"), _item("orjson", "3", "b1")]})
    x86 = parse_report({"install": [_item("numpy", "2.4.6", "a2"), _item("orjson", "3", "b2")]})
    merged = merge({"3.12-arm64": arm, "3.12-x86_64": x86})
    assert merged == {"numpy": ("2.4.6", {"a1", "a2"}), "orjson": ("3", {"b1", "b2"})}
    text = render(merged, [BuildTarget("arm64", "3.12"), BuildTarget("x86_64", "3.12")])
    assert "numpy==2.4.6 \\\n    --hash=sha256:a1 \\\n    --hash=sha256:a2\n" in text
    assert locked_targets(text) == {"3.12-arm64", "3.12-x86_64"}


def test_targets_disagreeing_on_a_version_are_refused() -> None:
    with pytest.raises(LockError, match="numpy 2.4.6 vs 2.5.0"):
        merge(
            {
                "3.11-x86_64": parse_report({"install": [_item("numpy", "2.4.6", "a")]}),
                "3.12-x86_64": parse_report({"install": [_item("numpy", "2.5.0", "b")]}),
            }
        )


def test_a_target_the_lock_does_not_cover_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    with pytest.raises(LockError, match="missing"):
        check_covers(lock, BuildTarget("arm64", "3.12"))
    lock.write_text("# targets: 3.12-arm64\nx==1 --hash=sha256:00\n")
    assert check_covers(lock, BuildTarget("arm64", "3.12")).startswith("# targets")
    with pytest.raises(LockError, match="no hashes for 3.10-x86_64"):
        check_covers(lock, BuildTarget("x86_64", "3.10"))


def test_the_repository_lock_pins_every_package_with_hashes_for_both_arches() -> None:
    text = REPO_LOCK.read_text()
    assert {"3.12-arm64", "3.12-x86_64", "3.11-x86_64"} <= locked_targets(text)
    requirements = [line for line in text.splitlines() if "==" in line]
    names = {line.split("==")[0] for line in requirements}
    assert {"onnxruntime", "numpy", "orjson", "fastapi", "mangum", "aws-lambda-powertools"} <= names
    assert "boto3" not in names  # Lambda's runtime has it
    entries = text.split("==")[1:]
    assert all("--hash=sha256:" in entry for entry in entries)
    assert text.count("manylinux") == 0  # hashes only, no URLs
    assert len(entries) == len(requirements)
