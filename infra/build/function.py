"""The function artifact: our own modules that the Lambda handler can import, nothing else.

Which modules ship is computed, not listed: starting from the handler, every first-party
module it imports (at the top or lazily inside functions) is followed, so conversion code,
CLIs, tests and caches never reach the zip and a new runtime module is never forgotten.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

HANDLER_MODULE = "functions.predict.handler"
# Top-level packages that are ours; anything else must come from the layer or the runtime.
FIRST_PARTY = ("functions", "model_store")


@dataclass(frozen=True)
class FunctionSpec:
    """One deployable function: where its import closure starts and what it is built into."""

    handler_module: str
    zip_name: str  # under build/<python>-<arch>/
    report_name: str
    # A lock (relative to the project root) whose wheels go into the zip, beside our modules.
    vendor_lock: str | None = None


# `slipway build --function NAME`; the names match the functions in serverless.yml.
FUNCTIONS = {
    "predict": FunctionSpec(HANDLER_MODULE, "function.zip", "report.json"),
    "flask": FunctionSpec(
        "functions.flask_api.handler",
        "flask_function.zip",
        "flask_report.json",
        "layers/flask-requirements.txt",
    ),
}


def module_path(root: Path, module: str) -> Path | None:
    """The file of a dotted module under root: a .py file or a package's __init__.py."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imported_modules(source: str, module: str, path: Path) -> set[str]:
    """Every module name an import statement in source could refer to (absolute names)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module, path).split(".")
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from pkg import name` may import the submodule pkg.name.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def closure(root: Path, start: str = HANDLER_MODULE) -> dict[str, Path]:
    """Module name -> file, for start and every first-party module it reaches."""
    found: dict[str, Path] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in found or name.split(".")[0] not in FIRST_PARTY:
            continue
        path = module_path(root, name)
        if path is None:
            continue  # `from pkg import attr` names an attribute, not a module
        found[name] = path
        todo.extend(_with_parents(name))
        todo.extend(imported_modules(path.read_text(encoding="utf-8"), name, path))
    return found


def function_entries(root: Path, start: str = HANDLER_MODULE) -> list[tuple[str, Path]]:
    """(archive name, path) pairs for the function zip, sorted."""
    files = closure(root, start).values()
    return sorted((p.relative_to(root).as_posix(), p) for p in files)
