"""`build(..., function="flask")` offline: the runtime layer and the vendored wheels come from
seeded caches, so pip is never run."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from infra.build import BuildTarget, build, vendored
from infra.build.builder import PROJECT_ROOT
from infra.build.exceptions import BuildError, LockError
from infra.build.layer import cache_key
from infra.build.vendored import check_disjoint, locked_names, tree_digest
from infra.cli import main
from tests.infra.build.test_build import TARGET, seeded

FLASK_LOCK = PROJECT_ROOT / "layers" / "flask-requirements.txt"


def seed_flask_deps(out: Path, target: BuildTarget = TARGET) -> Path:
    """A cached flask_function-deps/ tree for the repository's flask lock."""
    site = out / target.name / "flask_function-deps"
    for name in ("flask/__init__.py", "werkzeug/__init__.py", "serverless_wsgi.py"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(f"# {name}\n")
    text = FLASK_LOCK.read_text() + Path(vendored.__file__).read_text(encoding="utf-8")
    key = {"key": cache_key(text, target), "tree": tree_digest(site)}
    (site.parent / "flask_function-deps.key.json").write_text(json.dumps(key))
    return site


def test_the_flask_zip_holds_its_closure_the_shared_modules_and_the_wheels(
    tmp_path: Path,
) -> None:
    lock, out = seeded(tmp_path)
    seed_flask_deps(out)
    result = build(TARGET, out, lock_path=lock, function="flask")
    assert result.function_zip == out / "3.12-arm64" / "flask_function.zip"
    with zipfile.ZipFile(result.function_zip) as zf:
        names = set(zf.namelist())
    assert {
        "functions/flask_api/handler.py",
        "functions/flask_api/wsgi_lambda.py",
        "functions/flask_api/app.py",
        "functions/predict/service.py",
        "functions/predict/adapters/__init__.py",
        "functions/predict/dispatch.py",
        "model_store/loader.py",
        "flask/__init__.py",
        "werkzeug/__init__.py",
        "serverless_wsgi.py",
    } <= names
    # Not the Lambda function's own entry modules, nor build-time code. (The FastAPI app is
    # the OpenAPI document's source for every front end's dispatcher, the Flask one's too.)
    assert (
        "functions/predict/handler.py" not in names and "functions/predict/runtime.py" not in names
    )
    assert not [n for n in names if n.startswith(("tests/", "infra/"))]
    report = json.loads((out / "3.12-arm64" / "flask_report.json").read_text())
    assert report == result.report
    assert {p["package"] for p in report["function"]["packages"]} >= {"functions", "flask"}
    assert not (out / "3.12-arm64" / "report.json").exists()  # predict's report is untouched


def test_the_flask_zip_is_reproducible_and_the_predict_zip_unchanged(tmp_path: Path) -> None:
    lock, out = seeded(tmp_path)
    seed_flask_deps(out)
    predict = build(TARGET, out, lock_path=lock)
    first = build(TARGET, out, lock_path=lock, function="flask")
    second = build(TARGET, out, lock_path=lock, function="flask")
    assert first.function_sha256 == second.function_sha256
    assert first.layer_sha256 == second.layer_sha256 == predict.layer_sha256
    assert first.function_sha256 != predict.function_sha256
    assert build(TARGET, out, lock_path=lock).function_sha256 == predict.function_sha256


def test_a_tampered_vendored_tree_no_longer_matches_its_key(tmp_path: Path) -> None:
    from infra.build.vendored import vendored_site

    lock, out = seeded(tmp_path)
    site = seed_flask_deps(out)
    messages: list[str] = []
    _, reused = vendored_site(FLASK_LOCK, FLASK_LOCK.read_text(), TARGET, site, messages.append)
    assert reused
    (site / "flask" / "__init__.py").write_text("tampered\n")
    key = json.loads((site.parent / "flask_function-deps.key.json").read_text())
    assert key["tree"] != tree_digest(site)  # so the next build reinstalls from the lock


def test_an_unknown_function_is_refused(tmp_path: Path) -> None:
    lock, out = seeded(tmp_path)
    with pytest.raises(BuildError, match="use one of predict, flask"):
        build(TARGET, out, lock_path=lock, function="django")


def test_the_flask_lock_adds_nothing_the_layer_already_has() -> None:
    layer = PROJECT_ROOT / "layers" / "requirements.txt"
    names = locked_names(FLASK_LOCK.read_text())
    assert {"flask", "werkzeug", "serverless-wsgi"} <= names
    check_disjoint(FLASK_LOCK, FLASK_LOCK.read_text(), layer, layer.read_text())
    with pytest.raises(LockError, match="both pin flask"):
        check_disjoint(FLASK_LOCK, "flask==3.1.3 \\\n", layer, "flask==3.0.0 \\\n")
    # A pin the layer keeps out (NOT_AT_SERVING's tree: a marker no platform has) is not there.
    kept_out = "click==8.5.1 ; sys_platform == 'never' \\\n"
    check_disjoint(FLASK_LOCK, "click==8.5.1 \\\n", layer, kept_out)


def test_slipway_build_function_flask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = BuildTarget("x86_64", "3.12")
    from tests.infra.build.test_cli import seed_layer

    seed_layer(tmp_path / "out", target)
    seed_flask_deps(tmp_path / "out", target)
    argv = ["build", "--arch", "x86_64", "--python", "3.12", "--out", str(tmp_path / "out")]
    assert main([*argv, "--function", "flask"]) == 0
    out = capsys.readouterr()
    assert "flask_function.zip" in out.out and out.out.rstrip().endswith("OK")
    assert "flask_function-deps: unchanged lock" in out.err
    assert (tmp_path / "out" / "3.12-x86_64" / "flask_function.zip").is_file()
