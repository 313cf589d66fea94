"""The source tree's shape: no import circles between modules, layers that import one way.

Run as a script for the report the rules are checked against:

    python -m tests.test_architecture            # lines per package, largest modules,
                                                 # import circles, imports inside functions

Imports are read from the code (ast), as Python runs them: a module-level import (outside
`if TYPE_CHECKING:`) is an edge of the module graph; an import inside a function is counted
apart, since it runs later and cannot make a circle at import time, but hides one.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("functions", "model_store", "infra", "layers", "bench")


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    top: set[str] = field(default_factory=set)  # project modules imported at module level
    inner: list[tuple[int, str]] = field(default_factory=list)  # (line, module) in functions


def _modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if any(part.startswith(".") or part == "models" for part in rel.parts[:-1]):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            text = path.read_text()
            found[".".join(parts)] = Module(".".join(parts), path, text.count("\n"))
    for module in found.values():
        _read_imports(module, found)
    return found


def _target(name: str, known: dict[str, Module]) -> str | None:
    """The project module `name` (or its longest known prefix) denotes, if any."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _read_imports(module: Module, known: dict[str, Module]) -> None:
    tree = ast.parse(module.path.read_text())
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]

    def names(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            return
        base = node.module or ""
        if node.level:
            parent = package.split(".")
            parent = parent[: len(parent) - (node.level - 1)]
            base = ".".join([*parent, base] if base else parent)
        for alias in node.names:
            yield f"{base}.{alias.name}"  # a submodule, or a name in `base` (_target decides)

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # typing only: never imported at run time
            if isinstance(child, ast.Import | ast.ImportFrom):
                for name in names(child):
                    target = _target(name, known)
                    if target is None or target == module.name:
                        continue
                    if in_function:
                        module.inner.append((child.lineno, target))
                    else:
                        module.top.add(target)
                continue
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inner)

    visit(tree, False)


def circles(modules: dict[str, Module], *, inner: bool = False) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan), each sorted; with
    `inner`, imports inside functions count too (a circle they hide)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def connect(name: str) -> None:
        nonlocal counter
        index[name] = low[name] = counter
        counter += 1
        stack.append(name)
        on_stack.add(name)
        module = modules[name]
        edges = module.top | {t for _, t in module.inner} if inner else module.top
        for target in sorted(edges):
            if target not in index:
                connect(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == name:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in sorted(modules):
        if name not in index:
            connect(name)
    return sorted(groups)


def _parent_circles(modules: dict[str, Module], depth: int) -> list[list[str]]:
    """Circles between packages cut at `depth` dotted parts (infra.local.console, say),
    imports inside functions included."""
    folded: dict[str, Module] = {}
    for module in modules.values():
        key = ".".join(module.name.split(".")[:depth])
        group = folded.setdefault(key, Module(key, module.path, 0))
        targets = module.top | {t for _, t in module.inner}
        group.top |= {".".join(t.split(".")[:depth]) for t in targets}
    for group in folded.values():
        group.top = {t for t in group.top if t in folded and t != group.name}
    return circles(folded)


def _is_package(name: str, modules: dict[str, Module]) -> bool:
    return modules[name].path.name == "__init__.py"


def report(modules: dict[str, Module]) -> str:
    out = []
    per_package: Counter[str] = Counter()
    for module in modules.values():
        parts = module.name.split(".")
        if not _is_package(module.name, modules):
            parts = parts[:-1] or parts
        per_package[".".join(parts[:2])] += module.lines
    out.append("source lines per package (wc -l of its .py files):")
    for name, lines in sorted(per_package.items()):
        out.append(f"  {name:32} {lines:6}")
    out.append("largest modules:")
    for module in sorted(modules.values(), key=lambda m: -m.lines)[:12]:
        out.append(f"  {module.path.relative_to(ROOT)!s:48} {module.lines:6}")
    found = circles(modules)
    out.append(f"import circles between modules (module-level imports): {len(found)}")
    out.extend(f"  {' <-> '.join(group)}" for group in found)
    hidden = circles(modules, inner=True)
    out.append(f"import circles between modules (imports inside functions too): {len(hidden)}")
    out.extend(f"  {' <-> '.join(group)}" for group in hidden)
    packages = _parent_circles(modules, 3)
    out.append(f"import circles between packages (three name parts): {len(packages)}")
    out.extend(f"  {' <-> '.join(group)}" for group in packages)
    inner = Counter(".".join(m.name.split(".")[:2]) for m in modules.values() for _ in m.inner)
    out.append(f"project imports inside functions: {sum(inner.values())}")
    out.extend(f"  {name:32} {count:6}" for name, count in sorted(inner.items()))
    return "\n".join(out)


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return _modules()


def test_no_import_circles(modules: dict[str, Module]) -> None:
    assert circles(modules, inner=True) == []


def test_no_package_circles(modules: dict[str, Module]) -> None:
    assert _parent_circles(modules, 3) == []


def test_image_builds_do_not_import_the_local_platform(modules: dict[str, Module]) -> None:
    """The container image's tooling stands below the local platform, which uses it."""
    wrong = {
        (m.name, t)
        for m in modules.values()
        if m.name.startswith("infra.image")
        for t in m.top | {t for _, t in m.inner}
        if t.startswith("infra.local")
    }
    assert wrong == set()


# infra/local's parts, lowest first: each imports only its own part and those below it.
LOCAL_LAYERS = (
    ("infra.local.apigw", "infra.local.config", "infra.local.exceptions"),
    ("infra.local.state",),
    ("infra.local.runtime",),
    ("infra.local.gateway",),
    ("infra.local.console",),
    ("infra.local.platform",),
    ("infra.local.cloudrun",),
    ("infra.local.serve", "infra.local.cli", "infra.local"),
)


def _layer(name: str) -> int | None:
    best = None
    for rank, parts in enumerate(LOCAL_LAYERS):
        for part in parts:
            if (name == part or name.startswith(part + ".")) and (
                best is None or len(part) > best[1]
            ):
                best = (rank, len(part))
    return best[0] if best else None


def test_the_local_platform_imports_only_downwards(modules: dict[str, Module]) -> None:
    upwards = set()
    for m in modules.values():
        own = _layer(m.name)
        if own is None:
            continue
        for target in m.top | {t for _, t in m.inner}:
            theirs = _layer(target)
            if theirs is not None and theirs > own:
                upwards.add((m.name, target))
    assert upwards == set()


def test_the_function_imports_no_tooling(modules: dict[str, Module]) -> None:
    """What runs on Lambda (functions/) never imports the release tooling or the benches."""
    wrong = {
        (m.name, t)
        for m in modules.values()
        if m.name.startswith("functions")
        for t in m.top | {t for _, t in m.inner}
        if t.startswith(("infra", "bench"))
    }
    assert wrong == set()


if __name__ == "__main__":
    print(report(_modules()))
