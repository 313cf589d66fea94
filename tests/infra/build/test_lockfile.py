from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra.build.exceptions import LockError
from infra.build.lockfile import (
    TARGETS_PREFIX,
    check_covers,
    check_one_version,
    header,
    lock,
    locked_requirements,
    locked_targets,
    pins,
    source_requirements,
)
from infra.build.platforms import WHEEL_ARCH, BuildTarget, host_target

ROOT = Path(__file__).resolve().parents[3]
REPO_LOCK = ROOT / "layers" / "requirements.txt"
PYPROJECT = ROOT / "pyproject.toml"
FLASK_IN = ROOT / "layers" / "flask-requirements.in"
FLASK_LOCK = ROOT / "layers" / "flask-requirements.txt"

# What `uv pip compile --universal` writes when one version cannot serve every target.
FORKED = """numpy==2.4.6 ; python_full_version < '3.12' \\
    --hash=sha256:a1
numpy==2.5.0 ; python_full_version >= '3.12' \\
    --hash=sha256:b1
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:c1
    # via click
orjson==3 \\
    --hash=sha256:d1 \\
    --hash=sha256:d2
"""


def test_the_header_records_targets_and_requirements(tmp_path: Path) -> None:
    source = tmp_path / "pyproject.toml"
    source.write_text('[project]\ndependencies = ["numpy>=1.26,<2.5", "orjson>=3.10"]\n')
    text = header(source, [BuildTarget("x86_64", "3.12"), BuildTarget("arm64", "3.12")])
    assert locked_targets(text) == {"3.12-arm64", "3.12-x86_64"}
    assert locked_requirements(text) == ["numpy<2.5,>=1.26", "orjson>=3.10"]
    assert "The runtime layer's dependencies" in text
    found = {(p.name, p.version, str(p.marker) if p.marker else None) for p in pins(FORKED)}
    assert found == {
        ("numpy", "2.4.6", 'python_full_version < "3.12"'),
        ("numpy", "2.5.0", 'python_full_version >= "3.12"'),
        ("colorama", "0.4.6", 'sys_platform == "win32"'),
        ("orjson", "3", None),
    }
    for bad in ("numpy>=2 \\", "not a requirement ==="):
        with pytest.raises(LockError, match="not a `name==version` line"):
            pins(bad)


def test_targets_disagreeing_on_a_version_are_refused() -> None:
    targets = [BuildTarget("x86_64", "3.11"), BuildTarget("x86_64", "3.12")]
    with pytest.raises(LockError, match=r"different versions.*numpy==2\.4\.6 ; python_full"):
        check_one_version(FORKED, targets)
    # A marker no target meets (Windows only) is the same for all of them: accepted.
    windows_only = FORKED.split("colorama")[1]
    check_one_version("colorama" + windows_only, targets)


def test_a_marker_pip_would_evaluate_for_this_machine_not_the_target_is_refused(
    tmp_path: Path,
) -> None:
    host = host_target()
    other_arch = "x86_64" if host.arch == "arm64" else "arm64"
    lock_path = tmp_path / "requirements.txt"
    lock_path.write_text(
        "# targets: 3.12-arm64 3.12-x86_64 3.11-x86_64 3.13-x86_64\n"
        f"six==1.17.0 ; platform_machine == '{WHEEL_ARCH[other_arch]}' \\\n"
        "    --hash=sha256:00\n"
    )
    # pip on this machine skips the line, but the other arch needs it.
    with pytest.raises(LockError, match="would get these wrong: six==1.17.0"):
        check_covers(lock_path, BuildTarget(other_arch, "3.12"))
    check_covers(lock_path, BuildTarget(host.arch, "3.12"))
    other_python = "3.13" if host.python != "3.13" else "3.11"
    lock_path.write_text(
        f"# targets: {other_python}-x86_64\n"
        f"six==1.17.0 ; python_version == '{host.python}' --hash=sha256:00\n"
    )
    with pytest.raises(LockError, match="would get these wrong"):
        check_covers(lock_path, BuildTarget("x86_64", other_python))


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
    # One entry per pin: its line and the indented hash lines under it (a marker like
    # `sys_platform == 'win32'` has "==" too, so entries are not split on "==").
    entries = [e for e in re.split(r"\n(?=\S)", text) if "==" in e and not e.startswith("#")]
    assert all("--hash=sha256:" in entry for entry in entries)
    assert text.count("manylinux") == 0  # hashes only, no URLs
    assert len(entries) == len(requirements)


def _check_made_from(lock_path: Path, requirements: list[str]) -> None:
    """The lock records exactly these requirements and pins a version each one allows."""
    text = lock_path.read_text()
    assert locked_requirements(text) == requirements, f"run `slipway lock` for {lock_path}"
    pinned = {p.name: p.version for p in pins(text)}
    for line in requirements:
        req = Requirement(line)
        assert req.specifier.contains(pinned[req.name]), f"{req} but {pinned[req.name]} locked"


def test_the_layer_lock_is_made_from_pyprojects_dependencies() -> None:
    requirements = source_requirements(PYPROJECT)
    assert "numpy<2.5,>=1.26" in requirements  # bounds count too, not only names
    _check_made_from(REPO_LOCK, requirements)


def test_the_flask_lock_is_made_from_the_flask_extra() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extra = sorted(str(Requirement(r)) for r in project["optional-dependencies"]["flask"])
    # gunicorn serves the app off Lambda; there serverless-wsgi does.
    assert source_requirements(FLASK_IN) == [r for r in extra if not r.startswith("gunicorn")]
    _check_made_from(FLASK_LOCK, source_requirements(FLASK_IN))


def test_slipway_lock_reproduces_the_repository_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv from pyproject.toml, then pip's dry run for one target (network: PyPI)."""
    monkeypatch.chdir(ROOT)  # as `slipway lock` runs: paths in the lock are the repository's
    out = tmp_path / "requirements.txt"
    shutil.copyfile(REPO_LOCK, out)  # its pins are kept, as when a developer re-locks
    target = BuildTarget("arm64", "3.12")
    lock(Path("pyproject.toml"), out, [target])
    made, committed = out.read_text(), REPO_LOCK.read_text()
    assert locked_targets(made) == {target.name}

    def body(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith(TARGETS_PREFIX)]

    assert body(made) == body(committed)
