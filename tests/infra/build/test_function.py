from __future__ import annotations

from pathlib import Path

from infra.build.builder import PROJECT_ROOT
from infra.build.function import closure, function_entries, imported_modules


def test_function_zip_holds_the_handler_closure_and_no_build_time_code() -> None:
    names = [arc for arc, _ in function_entries(PROJECT_ROOT)]
    assert "functions/predict/handler.py" in names
    # Imported lazily inside functions: still shipped.
    assert "model_store/backends/s3.py" in names
    assert "functions/predict/app.py" in names
    for parent in ("functions/__init__.py", "model_store/__init__.py"):
        assert parent in names
    assert not [n for n in names if n.startswith(("tests/", "infra/", "model_store/convert/"))]
    assert "model_store/cli.py" not in names and "model_store/example.py" not in names
    assert all(n.endswith(".py") for n in names)


def test_relative_and_from_imports_are_followed(tmp_path: Path) -> None:
    pkg = tmp_path / "functions" / "demo"
    pkg.mkdir(parents=True)
    (tmp_path / "functions" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "handler.py").write_text("from . import helper\nfrom .util import thing\n")
    (pkg / "helper.py").write_text(
        "def f():\n    import json\n    from functions.demo import lazy\n"
    )
    (pkg / "util.py").write_text("thing = 1\n")
    (pkg / "lazy.py").write_text("")
    (pkg / "unused.py").write_text("")
    found = closure(tmp_path, "functions.demo.handler")
    assert set(found) == {
        "functions",
        "functions.demo",
        "functions.demo.handler",
        "functions.demo.helper",
        "functions.demo.util",
        "functions.demo.lazy",
    }


def test_imported_modules_resolves_relative_names() -> None:
    names = imported_modules(
        "from ..config import X\nimport numpy as np\n", "functions.predict.app", Path("app.py")
    )
    assert {"functions.config", "functions.config.X", "numpy"} <= names
