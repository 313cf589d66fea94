"""Read .github/workflows and run a job's `run:` steps here, as a GitHub runner would.

Only what the workflows use is understood, and anything else fails loudly: expressions that
are a context path (`inputs.model`, `vars.X`, `needs.plan.outputs.stage`,
`steps.ID.outputs.Y`), a quoted literal, `A || B` (the first non-empty) and `A == 'b'`; step
conditions `always()` only. Each step's script runs as the runner runs it (`bash --noprofile
--norc -eo pipefail FILE`) with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, whose
`key=value` lines become `steps.ID.outputs`. Steps that `uses:` an action (checkout, caches,
OIDC credentials) are not run: the test gives the environment those would have made.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PATH_EXPR = re.compile(r"[A-Za-z_][\w-]*(\.[\w-]+)+")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:  # YAML 1.1 reads the key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


class Unsupported(Exception):
    """Raise when a workflow uses an expression or condition this runner does not model."""


def _lookup(ctx: Mapping[str, Any], path: str) -> str:
    value: Any = ctx
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(key, "")
    return "" if value is None else str(value)


def _operand(text: str, ctx: Mapping[str, Any]) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    if PATH_EXPR.fullmatch(text):
        return _lookup(ctx, text)
    raise Unsupported(f"expression operand {text!r}")


def evaluate(expr: str, ctx: Mapping[str, Any]) -> str:
    if "==" in expr:
        left, right = expr.split("==", 1)
        return "true" if _operand(left, ctx) == _operand(right, ctx) else ""
    for part in expr.split("||"):
        value = _operand(part, ctx)
        if value:
            return value
    return ""


def expand(text: str, ctx: Mapping[str, Any]) -> str:
    return EXPR.sub(lambda m: evaluate(m.group(1), ctx), text)


def condition(text: str, ctx: Mapping[str, Any]) -> bool:
    """A job's `if:` (an expression without the braces)."""
    return bool(evaluate(text, ctx))


@dataclass
class Step:
    name: str
    id: str | None
    ran: bool
    why_not: str = ""
    code: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass
class Job:
    steps: list[Step]

    @property
    def failed(self) -> bool:
        return any(s.ran and s.code != 0 for s in self.steps)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def _read_outputs(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        key, sep, value = line.partition("=")
        if not sep:
            raise Unsupported(f"GITHUB_OUTPUT line {line!r} (only key=value lines)")
        out[key] = value
    return out


def run_job(
    workflow: Mapping[str, Any],
    job_id: str,
    ctx: dict[str, Any],
    *,
    env: Mapping[str, str],
    workdir: Path,
    skip: Mapping[str, str] = {},
    timeout: float = 120,
) -> Job:
    """Run `job_id`'s steps in `workdir` with `env` under the workflow's env blocks."""
    job = workflow["jobs"][job_id]
    ctx = {**ctx, "steps": {}}
    job_env = {k: expand(str(v), ctx) for k, v in (job.get("env") or {}).items()}
    steps: list[Step] = []
    for n, spec in enumerate(job["steps"]):
        name = spec.get("name") or spec.get("uses") or spec.get("run", "").splitlines()[0]
        sid = spec.get("id")
        cond = spec.get("if")
        if cond is not None and cond != "always()":
            raise Unsupported(f"step condition {cond!r}")
        failed = any(s.ran and s.code for s in steps)
        if "uses" in spec:
            steps.append(Step(name, sid, ran=False, why_not="an action (the test stands in)"))
            continue
        if sid in skip:
            steps.append(Step(name, sid, ran=False, why_not=skip[sid]))
            continue
        if failed and cond != "always()":
            steps.append(Step(name, sid, ran=False, why_not="an earlier step failed"))
            continue
        step_env = {k: expand(str(v), ctx) for k, v in (spec.get("env") or {}).items()}
        script = workdir / f"step-{n}.sh"
        script.write_text(expand(spec["run"], ctx))
        outputs, summary = workdir / f"step-{n}.out", workdir / f"step-{n}.md"
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env={
                **env,
                **job_env,
                **step_env,
                "GITHUB_OUTPUT": str(outputs),
                "GITHUB_STEP_SUMMARY": str(summary),
            },
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        step = Step(
            name,
            sid,
            ran=True,
            code=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            outputs=_read_outputs(outputs),
            summary=summary.read_text() if summary.exists() else "",
        )
        steps.append(step)
        if sid:
            ctx["steps"][sid] = {"outputs": step.outputs}
    return Job(steps)


def job_outputs(
    workflow: Mapping[str, Any], job_id: str, job: Job, ctx: Mapping[str, Any]
) -> dict[str, str]:
    """The job's `outputs:` evaluated over its steps' outputs (what `needs.JOB.outputs` sees)."""
    steps = {s.id: {"outputs": s.outputs} for s in job.steps if s.id}
    spec = workflow["jobs"][job_id].get("outputs") or {}
    return {k: expand(str(v), {**ctx, "steps": steps}) for k, v in spec.items()}


def base_env(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The environment a step sees: this machine's, less cloud and slipway settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLIPWAY_", "GITHUB_"))}
    return {**env, "CI": "true", **extra}
