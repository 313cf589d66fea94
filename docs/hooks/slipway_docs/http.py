"""The HTTP API reference, from the function's own /openapi.json for the example model.

The document is made as a user would get it: `slipway example` into a temporary store, then
`slipway invoke --method GET --path /openapi.json`, which runs the real handler in process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from slipway_docs import REPO, cell, table

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def _slipway(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "infra", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"slipway {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def openapi() -> dict[str, Any]:
    """The example model's OpenAPI document, as GET /openapi.json answers it."""
    with tempfile.TemporaryDirectory(prefix="slipway-docs-") as tmp:
        store = str(Path(tmp) / "store")
        env = {**os.environ, "SLIPWAY_PROGRESS": "plain", "SLIPWAY_METRICS": "off"}
        _slipway("example", "--store", store, env=env)
        out = _slipway(
            "invoke", "--store", store, "--method", "GET", "--path", "/openapi.json", env=env
        )
    # stdout: the function's log lines (JSON, one a line), then the result, indented.
    result = json.loads(out[out.index("{\n") :])
    if int(result["statusCode"]) != 200:
        raise RuntimeError(f"GET /openapi.json answered {result['statusCode']}: {result['body']}")
    document: dict[str, Any] = json.loads(result["body"])
    return document


def _schema(title: str, schema: dict[str, Any]) -> str:
    body = json.dumps(schema, indent=2, ensure_ascii=False)
    block = "\n".join("    " + line for line in ["```json", *body.splitlines(), "```"])
    return f'??? info "{title}"\n\n{block}\n'


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    anchor = (method + path).replace("/", "-").replace("{", "").replace("}", "").lower()
    out = [f"### `{method.upper()} {path}` {{#{anchor}}}\n"]
    if op.get("summary"):
        out.append(
            f"**{cell(op['summary'])}.**"
            + (" " + op["description"] if op.get("description") else "")
            + "\n"
        )
    params = op.get("parameters") or []
    if params:
        rows = [
            (
                f"`{p['name']}`",
                p.get("in", ""),
                "yes" if p.get("required") else "no",
                cell(p.get("description", "")),
            )
            for p in params
        ]
        out.append(table(("parameter", "in", "required", "what"), rows))
    body = op.get("requestBody")
    if body:
        for ctype, content in body.get("content", {}).items():
            out.append(
                f"Request body: `{ctype}`" + (" (required)" if body.get("required") else "") + ".\n"
            )
            if content.get("schema"):
                out.append(_schema(f"Request schema ({ctype})", content["schema"]))
            example = content.get("example")
            if example is not None:
                out.append(_schema("Example request", example))
    answers = []
    for status, answer in op.get("responses", {}).items():
        types = ", ".join(f"`{t}`" for t in answer.get("content", {}))
        answers.append((f"**{status}**", cell(answer.get("description", "")), types))
    if answers:
        out.append(table(("status", "meaning", "content"), answers))
    ok = op.get("responses", {}).get("200", {}).get("content", {})
    for ctype, content in ok.items():
        if content.get("schema") and content["schema"] != {}:
            out.append(_schema(f"200 response schema ({ctype})", content["schema"]))
    return "\n".join(out)


def render(document: dict[str, Any]) -> str:
    info = document.get("info", {})
    out = [
        f"Generated from `GET /openapi.json` of the example model (OpenAPI "
        f"{document.get('openapi', '?')}, *{cell(info.get('title', ''))}*: "
        f"{str(info.get('description', '')).rstrip('.')}). Another model's document has the same routes with its "
        "own name, inputs and outputs: fetch yours from `/openapi.json` or browse it at `/docs`. "
        "The whole document: [openapi.json](openapi.json).\n",
    ]
    for path, ops in document.get("paths", {}).items():
        for method in METHODS:
            if method in ops:
                out.append(_operation(method, path, ops[method]))
    return "\n".join(out)
