"""Reference tables read from the code: the function's settings, its errors, the release verbs'
exit codes, named limits with their comments, and serverless.yml's parameters and outputs."""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import re
import tokenize
from dataclasses import fields
from typing import Any

from slipway_docs import REPO, cell, table

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")


def comments(source: str) -> dict[int, str]:
    """{line number: the comment at the end of that line}."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _module_source(name: str) -> tuple[Any, str, ast.Module]:
    module = importlib.import_module(name)
    source = inspect.getsource(module)
    return module, source, ast.parse(source)


# --- the function's settings (functions/predict/config.py) ---------------------------------


def settings() -> list[dict[str, Any]]:
    """Each environment variable config.py names: its setting, default, accepted values, note."""
    module, source, tree = _module_source("functions.predict.config")
    notes = comments(source)
    names: dict[str, tuple[str, str]] = {}  # constant -> (variable, note)
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and ENV_NAME.match(node.value.value)
        ):
            names[node.targets[0].id] = (node.value.value, notes.get(node.lineno, ""))
    reads = _reads(tree, module, set(names))
    defaults = {f.name: f.default for f in fields(module.Settings)}
    out = []
    for const, (variable, note) in names.items():
        field, accepted = reads.get(const, ("", ""))
        out.append(
            {
                "variable": variable,
                "setting": field,
                "default": defaults.get(field) if field else None,
                "accepted": accepted,
                "note": note,
            }
        )
    return out


def _reads(tree: ast.Module, module: Any, constants: set[str]) -> dict[str, tuple[str, str]]:
    """{constant: (Settings field, accepted values)} from Settings.from_mapping's keywords."""
    out: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.FunctionDef) and node.name == "from_mapping"):
            continue
        for call in ast.walk(node):
            if not isinstance(call, ast.Call):
                continue
            for kw in call.keywords:
                used = {n.id for n in ast.walk(kw.value) if isinstance(n, ast.Name)} & constants
                for const in used:
                    out[const] = (kw.arg or "", _accepted(kw.value, module))
    return out


def _accepted(value: ast.expr, module: Any) -> str:
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        if value.func.id == "_int" and len(value.args) >= 5:
            low, high = (
                eval(compile(ast.Expression(a), "<config>", "eval"), vars(module))
                for a in value.args[3:5]
            )
            return f"a whole number in [{low}, {high}]"
        if value.func.id == "_flag":
            truthy = sorted(getattr(module, "_TRUE", ())) + sorted(getattr(module, "_FALSE", ()))
            return "on or off (" + ", ".join(truthy) + ")"
    return "text"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return f"{value:_}".replace("_", " ")
    return str(value)


def render_settings() -> str:
    rows = []
    for s in settings():
        default = s["default"]
        shown = "—" if default is None else f"`{_shown(default)}`"
        rows.append(
            (
                f"`{s['variable']}`",
                f"`{s['setting']}`" if s["setting"] else "",
                shown,
                cell(s["accepted"]),
                cell(s["note"]),
            )
        )
    return table(("variable", "setting", "default", "accepted", "note in config.py"), rows)


# --- the function's errors (functions/predict/exceptions.py) --------------------------------


def errors() -> list[dict[str, Any]]:
    module = importlib.import_module("functions.predict.exceptions")
    base, http = module.PredictError, module.HTTPError
    out = []
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, base) and obj.__module__ == module.__name__:
            is_http = issubclass(obj, http) and obj is not http
            out.append(
                {
                    "name": obj.__name__,
                    "status": getattr(obj, "status", None) if is_http else None,
                    "code": getattr(obj, "code", None) if is_http else None,
                    "doc": inspect.getdoc(obj) or "",
                }
            )
    return out


def render_errors() -> str:
    rows, other = [], []
    for e in errors():
        first = e["doc"].split("\n\n")[0]
        if e["status"] is not None:
            rows.append((f"**{e['status']}**", f"`{e['code']}`", f"`{e['name']}`", cell(first)))
        else:
            other.append((f"`{e['name']}`", cell(e["doc"])))
    rows.sort(key=lambda r: r[0])
    return (
        table(("status", "code", "exception", "raised when"), rows)
        + "\nNot answers to a request, but failures of the function itself:\n\n"
        + table(("exception", "raised when"), other)
    )


def render_exit_codes() -> str:
    from infra.release import verbs
    from infra.release_cli import EXIT_CODES

    rows = [
        ("0", "`released` (`dry_run` with `--dry-run`)", "", "the alias points at the new version")
    ]
    code, result = verbs.REFUSED
    rows.append(
        (str(code), f"`{result}`", "any other `ReleaseError`", "refused or failed otherwise")
    )
    rows.append(("2", "—", "", "usage (argparse)"))
    for kind, code, result in verbs.EXIT_CODES:
        rows.append(
            (
                str(code),
                f"`{result}`",
                f"`{kind.__name__}`",
                cell((inspect.getdoc(kind) or "").split("\n\n")[0]),
            )
        )
    rows.sort(key=lambda r: r[0])
    return (
        table(("exit code", "`result` (with `--json`)", "error", "meaning"), rows)
        + "\nAs `slipway release --help` prints them:\n\n```text\n"
        + str(EXIT_CODES).strip()
        + "\n```\n"
    )


# --- named limits, wherever their module is -------------------------------------------------


def constant(package: str, name: str) -> tuple[str, Any, str]:
    """(module, value, comment) of a module-level constant defined somewhere in `package`."""
    root = REPO / package.replace(".", "/")
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        if not re.search(rf"^{name}\s*[:=]", source, re.M):
            continue
        tree, notes = ast.parse(source), comments(source)
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                rel = path.relative_to(REPO).with_suffix("")
                parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
                module = ".".join(parts)
                note = notes.get(node.lineno) or _comment_above(source, node.lineno)
                return module, getattr(importlib.import_module(module), name), note
    raise LookupError(f"no module-level {name} in {package}")


def _comment_above(source: str, lineno: int) -> str:
    """The block of whole-line comments right above line `lineno` (1-based), joined."""
    lines = source.splitlines()
    block: list[str] = []
    i = lineno - 2
    while i >= 0 and lines[i].lstrip().startswith("#"):
        block.insert(0, lines[i].lstrip().lstrip("#").strip())
        i -= 1
    return " ".join(block)


def render_constants(spec: str) -> str:
    """`package:NAME,NAME` → a table of each named constant, its value, module and comment."""
    package, _, names = spec.partition(":")
    rows = []
    for name in names.split(","):
        module, value, note = constant(package, name.strip())
        shown = _shown(value)
        rows.append((f"`{name.strip()}`", f"`{shown}`", f"`{module}`", cell(note)))
    return table(("constant", "value", "module", "comment there"), rows)


# --- serverless.yml -------------------------------------------------------------------------

SERVERLESS = REPO / "serverless.yml"
_PARAM = re.compile(r"^#   (\w+)\s+(.*?)\s{2,}(\S+)$")
_MORE = re.compile(r"^#\s{10,}(\S.*)$")


def serverless_parameters() -> list[dict[str, str]]:
    """The parameters serverless.yml's header documents, with `params.default`'s values."""
    import yaml

    text = SERVERLESS.read_text()
    defaults = yaml.safe_load(text)["params"]["default"]
    head = text.split("# Parameters", 1)[1].split("\n#\n", 1)[0].splitlines()[1:]
    out: list[dict[str, str]] = []
    for line in head:
        if m := _PARAM.match(line):
            name, about, shown = m.groups()
            default = defaults.get(name, shown)
            out.append(
                {"name": name, "about": about, "default": "''" if default == "" else str(default)}
            )
        elif (m := _MORE.match(line)) and out:
            out[-1]["about"] += " " + m.group(1)
    return out


def serverless_outputs() -> list[tuple[str, str, str]]:
    import yaml

    doc = yaml.safe_load(SERVERLESS.read_text())
    out = []
    for part in doc["resources"]:
        if isinstance(part, dict):
            for name, o in part.get("Outputs", {}).items():
                out.append((name, o.get("Description", ""), "always"))
    flask = doc["custom"]["flask"]["resources"].get("Outputs", {})
    out += [
        (name, o.get("Description", ""), "with `--param flask=true`") for name, o in flask.items()
    ]
    return out


def render_serverless() -> str:
    rows = [
        (f"`{p['name']}`", f"`{p['default']}`", cell(p["about"])) for p in serverless_parameters()
    ]
    outputs = [(f"`{n}`", cell(d), w) for n, d, w in serverless_outputs()]
    return (
        table(("`--param`", "default", "what"), rows)
        + "\n## Stack outputs\n\n"
        + table(("output", "what", "when"), outputs)
    )


GENERATED: dict[str, Any] = {
    "settings": render_settings,
    "errors": render_errors,
    "exit-codes": render_exit_codes,
    "serverless": render_serverless,
}
