"""Every `slipway`, `make` and `npx osls` command the workflows run exists with those flags.

Each `run:` script is split into commands (continuation lines joined, cut at pipes,
redirections, `;`, `&&`, `||` and `$(`); then each command is checked by the tool itself:
`slipway …` is parsed by slipway's own argument parser with the workflow's defaults for
its variables (flags, choices and types must fit) and its help names every flag;
`bash infra/ci/release.sh ARGS` is `slipway release ARGS --json`, and `bash infra/ci/release.sh
deploy ARGS` is `npx osls deploy ARGS`; `make …` runs as `make -n`; `npx osls deploy` must list
its flags in `osls deploy --help` and pass only the params serverless.yml declares.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from infra import cli
from tests.infra.ci.workflow import EXPR, ROOT, load, workflows
from tests.serverless.conftest import OSLS, _ensure_osls

BIN = Path(sys.executable).parent
CUT = re.compile(r"\s*(?:\|\||&&|>>|[|<>;])\s*|\$\(|`|\)")
TOOLS = (".venv/bin/slipway", "make", "npx", "bash")
# Values for the workflows' variables: their `||` defaults, else a value of the right form.
SAMPLE = {
    "MODEL": "digits@1",
    "STAGE": "prod",
    "IMAGE_URI": "us-docker.pkg.dev/p/r/slipway@sha256:" + "a" * 64,
    "REGISTRY": "us-docker.pkg.dev/p/r",
    "GITHUB_SHA": "0" * 40,
    "PROJECT": "acme",
    "SERVICE": "slipway-prod",
    "AWS_REGION": "eu-west-1",
    "name": "digits",
}


def defaults(env: dict[str, str]) -> dict[str, str]:
    """The env block's values with `${{ … || 'x' }}` taken as x (what an unset variable gives)."""
    out = {}
    for key, value in env.items():
        literal = re.findall(r"'([^']*)'", EXPR.sub(lambda m: m.group(1), str(value)))
        if literal:
            out[key] = literal[-1]
    return out


def commands(script: str) -> Iterator[str]:
    joined = re.sub(r"\\\n\s*", " ", script)
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in CUT.split(f" {line} "):
            part = part.strip()
            if part.startswith(TOOLS):
                yield part


def every_command() -> Iterator[tuple[str, str, dict[str, str]]]:
    for path in workflows():
        wf = load(path.name)
        for job_name, job in wf["jobs"].items():
            job_env = defaults(job.get("env") or {})
            for step in job["steps"]:
                env = SAMPLE | job_env | defaults(step.get("env") or {})
                for command in commands(step.get("run", "")):
                    yield (
                        f"{path.name}:{job_name}:{step.get('id') or step.get('name')}",
                        command,
                        env,
                    )


def argv_of(command: str, env: dict[str, str]) -> list[str]:
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in env, f"no sample value for ${name} in {command!r}"
        return env[name]

    words = shlex.split(command)
    return [re.sub(r"\$\{(\w+)\}|\$(\w+)", value, w) for w in words]


ALL = list(every_command())


DEPLOY = "bash infra/ci/release.sh deploy"


def params(*tools: str) -> list[object]:
    return [
        pytest.param(w, c, e, id=f"{w}:{c.split()[1] if c.startswith('.venv') else ''}")
        for w, c, e in ALL
        if c.startswith(tools) and not c.startswith(DEPLOY)
    ]


def test_the_workflows_run_what_is_checked_here() -> None:
    kinds = {
        cmd.split()[0] + (" " + cmd.split()[1] if cmd.startswith(("npx", "bash")) else "")
        for _, cmd, _ in ALL
    }
    # `npx osls deploy` runs through `bash infra/ci/release.sh deploy` (test_osls_deploy_…).
    assert kinds == {".venv/bin/slipway", "make", "bash infra/ci/release.sh"}, kinds
    assert any(c.startswith(DEPLOY) for _, c, _ in ALL)
    slipway = {" ".join(c.split()[1:3]) for _, c, _ in ALL if c.startswith(".venv/bin/slipway")}
    assert {"build --arch", "status --target", "image push"} <= slipway


def _parse(argv: list[str]) -> None:
    """slipway's own parser: exits (SystemExit 2) on an unknown flag, a bad choice or type."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            cli.parser().parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"slipway {' '.join(argv)}: {err.getvalue()}") from exc


def _help(argv: list[str]) -> str:
    words = [w for w in argv if not w.startswith("-")]
    # The subcommand path: `image push`, `cloudrun manifest`, else one word.
    path = words[:2] if words[0] in ("image", "cloudrun", "alias") else words[:1]
    done = subprocess.run(
        [str(BIN / "slipway"), *path, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("where", "command", "env"), params(".venv", "bash"))
def test_slipway_commands_exist_with_their_flags(
    where: str, command: str, env: dict[str, str]
) -> None:
    argv = argv_of(command, env)
    if argv[:2] == ["bash", "infra/ci/release.sh"]:
        assert (ROOT / "infra/ci/release.sh").read_text().count('"$slipway" release "$@" --json')
        argv = ["release", *argv[2:], "--json"]
    else:
        argv = argv[1:]
    _parse(argv)
    text = _help(argv)
    for flag in (w.split("=")[0] for w in argv if w.startswith("--")):
        assert re.search(rf"{re.escape(flag)}\b", text), f"{where}: {flag} not in --help"


@pytest.mark.parametrize(("where", "command", "env"), params("make"))
def test_make_targets_exist(where: str, command: str, env: dict[str, str]) -> None:
    argv = argv_of(command, env)
    done = subprocess.run(
        ["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{where}: make -n {argv[1:]}: {done.stderr}"
    assert "No rule to make target" not in done.stderr


def test_osls_deploy_flags_and_params_exist() -> None:
    # `bash infra/ci/release.sh deploy ARGS` runs `npx osls deploy ARGS` (and nothing else).
    assert (ROOT / "infra/ci/release.sh").read_text().count('npx osls deploy "$@"') == 1
    deploys = [
        (w, ["npx", "osls", *argv_of(c, e)[2:]] if c.startswith(DEPLOY) else argv_of(c, e))
        for w, c, e in ALL
        if c.startswith(("npx osls", DEPLOY))
    ]
    assert deploys, "release.yml deploys with npx osls"
    _ensure_osls()
    done = subprocess.run(
        [str(OSLS), "deploy", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    declared = set(yaml.safe_load(_serverless_params())["params"]["default"])
    for where, argv in deploys:
        assert argv[:3] == ["npx", "osls", "deploy"], where
        flags = [w for w in argv if w.startswith("--")]
        for flag in flags:
            assert re.search(rf"^{re.escape(flag)}\b", done.stdout, re.M), f"{where}: {flag}"
        params = {argv[i + 1].split("=")[0] for i, w in enumerate(argv) if w == "--param"}
        assert params == {"arch", "model", "canarySteps", "canaryWait", "canaryPoll", "alarms"}
        assert params <= declared, f"{where}: serverless.yml does not declare {params - declared}"


def _serverless_params() -> str:
    # serverless.yml uses the framework's own variables; only its `params:` block is YAML here.
    text = (ROOT / "serverless.yml").read_text()
    block = re.search(r"^params:\n(?:(?:  .*)?\n)+", text, re.M)
    assert block
    return block.group(0)
