"""The lock files: exact versions with sha256 hashes, for every target they cover.

The runtime layer's requirements are pyproject.toml's `[project].dependencies` and nothing
else. `slipway lock` has uv resolve and hash them (`uv pip compile --universal
--generate-hashes`, wheels only, from PyPI; pins already in the lock are kept), then runs,
for each target, the build's own pip command as a dry run and checks that it picks exactly
the pinned versions. The header records those targets (a build for a target the lock never
saw is refused up front) and the requirements the lock was made from (a test compares them
with pyproject.toml, so the two cannot drift).

pip evaluates environment markers (`python_version`, `platform_machine`) against the machine
that runs it, not against `--platform`/`--python-version`, so a lock whose markers differ
between targets (uv forks a package when one version cannot serve them all) or between the
target and this machine is refused: bound the version in pyproject.toml instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# packaging: the marker and requirement grammar pip uses (a runtime dependency of onnxruntime).
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from infra.build.exceptions import DependencyInstallError, LockError
from infra.build.layer import install_command
from infra.build.platforms import INDEX_URL, WHEEL_ARCH, BuildTarget

PYPROJECT = Path("pyproject.toml")
LOCK_FILE = Path("layers") / "requirements.txt"
# Packages a runtime dependency requires but serving never imports, kept out of every lock (uv
# resolves them with a marker no platform has, so pip installs them nowhere): why each.
NOT_AT_SERVING = {
    # tokenizers requires it for Tokenizer.from_pretrained (downloads from the Hub); the
    # function reads tokenizer.json from the model store, and `import tokenizers` never
    # imports it. With its tree (hf-xet, httpx2, fsspec, …) it put the layer over Lambda's
    # 50 MB.
    "huggingface-hub": "tokenizers' from_pretrained only",
}
NEVER = "sys_platform == 'never'"
OVERRIDES_SOURCE = "infra/build/lockfile.py NOT_AT_SERVING"
TARGETS_PREFIX = "# targets: "
REQUIRES_PREFIX = "# requires: "
DEFAULT_TARGETS = tuple(
    BuildTarget(arch, python) for python in ("3.11", "3.12", "3.13") for arch in ("arm64", "x86_64")
)


@dataclass(frozen=True)
class Pin:
    """One `name==version [; marker]` line of a lock."""

    name: str
    version: str
    marker: Marker | None

    def applies_to(self, target: BuildTarget | None) -> bool:
        """Whether pip installs it for target (None: as pip decides, on this machine)."""
        if self.marker is None:
            return True
        return self.marker.evaluate(None if target is None else target_environment(target))

    def __str__(self) -> str:
        return f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")


def target_environment(target: BuildTarget) -> dict[str, str]:
    """The PEP 508 environment of a Lambda (Linux, CPython) execution environment for target."""
    full = f"{target.python}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": WHEEL_ARCH[target.arch],
        "python_version": target.python,
        "python_full_version": full,
    }


def installed(lock_text: str) -> list[Pin]:
    """The pins pip installs for some target: without those kept out (NOT_AT_SERVING)."""
    return [p for p in pins(lock_text) if any(p.applies_to(t) for t in DEFAULT_TARGETS)]


def pins(lock_text: str) -> list[Pin]:
    """The requirement lines of a lock (hash continuation lines and comments skipped)."""
    out = []
    for line in lock_text.splitlines():
        if not line or line[0] in " #\t-":
            continue
        # `name==1.0 ; marker \\`, or one line with its options: `name==1.0 --hash=sha256:...`
        try:
            req = Requirement(line.split(" --", 1)[0].rstrip("\\ "))
            (spec,) = req.specifier
        except (InvalidRequirement, ValueError) as exc:
            raise LockError(f"not a `name==version` line in a lock: {line!r}") from exc
        if spec.operator != "==":
            raise LockError(f"not a `name==version` line in a lock: {line!r}")
        out.append(Pin(canonicalize_name(req.name), spec.version, req.marker))
    return out


def locked_targets(lock_text: str) -> set[str]:
    for line in lock_text.splitlines():
        if line.startswith(TARGETS_PREFIX):
            return set(line[len(TARGETS_PREFIX) :].split())
    return set()


def locked_requirements(lock_text: str) -> list[str]:
    """The requirements the lock was made from, as its header records them."""
    return [
        line[len(REQUIRES_PREFIX) :]
        for line in lock_text.splitlines()
        if line.startswith(REQUIRES_PREFIX)
    ]


def source_requirements(source: Path) -> list[str]:
    """pyproject.toml's `[project].dependencies`, or a requirements file's lines; normalised."""
    if source.name == "pyproject.toml":
        raw = tomllib.loads(source.read_text(encoding="utf-8"))["project"]["dependencies"]
    else:
        lines = (line.split("#", 1)[0].strip() for line in source.read_text().splitlines())
        raw = [line for line in lines if line]
    return sorted(str(Requirement(r)) for r in raw)


def marker_mismatches(lock_text: str, target: BuildTarget) -> list[str]:
    """Pins that pip on this machine would treat otherwise than target needs."""
    return [str(p) for p in pins(lock_text) if p.applies_to(None) != p.applies_to(target)]


def check_covers(lock_path: Path, target: BuildTarget) -> str:
    """Return the lock's text; raise LockError if it is missing or cannot serve target."""
    if not lock_path.is_file():
        raise LockError(f"{lock_path} is missing; run `slipway lock` to create it")
    text = lock_path.read_text(encoding="utf-8")
    covered = locked_targets(text)
    if target.name not in covered:
        raise LockError(
            f"{lock_path} has no hashes for {target.name} (it covers: "
            f"{', '.join(sorted(covered)) or 'nothing'}); "
            "run `slipway lock` with it among the --target values"
        )
    wrong = marker_mismatches(text, target)
    if wrong:
        raise LockError(
            f"{lock_path}: pip decides environment markers for this machine, not for "
            f"{target.name}, and would get these wrong: {'; '.join(wrong)}. Bound the versions "
            "in pyproject.toml so one version serves every target, then run `slipway lock`"
        )
    return text


def check_one_version(lock_text: str, targets: Iterable[BuildTarget]) -> None:
    """Raise LockError when a pin's marker differs between targets (pip cannot honour it)."""
    targets = list(targets)
    forked = [str(p) for p in pins(lock_text) if len({p.applies_to(t) for t in targets}) > 1]
    if forked:
        raise LockError(
            "targets resolve to different versions; bound them in pyproject.toml so one "
            f"version serves every target: {'; '.join(forked)}"
        )


def header(source: Path, targets: Iterable[BuildTarget]) -> str:
    what = "The runtime layer's dependencies" if source.name == "pyproject.toml" else "Dependencies"
    lines = [
        f"# {what}, locked by `slipway lock` from {source.as_posix()}.",
        "# Resolved and hashed by `uv pip compile --universal --generate-hashes` (wheels only,",
        "# from PyPI); each target below installs exactly these pins with the build's pip.",
        TARGETS_PREFIX + " ".join(sorted(t.name for t in targets)),
        *(REQUIRES_PREFIX + r for r in source_requirements(source)),
    ]
    return "\n".join(lines) + "\n"


def uv_compile(source: Path, out: Path, lowest_python: str) -> None:
    """uv resolves source for every platform into out, keeping the pins already there;
    NOT_AT_SERVING and what only they require get a marker no platform has."""
    try:
        from uv import find_uv_bin

        uv = find_uv_bin()
    except (ImportError, FileNotFoundError):
        uv = shutil.which("uv") or ""
    if not uv:
        raise LockError("uv is not installed: `pip install uv` (it is in the dev extra)")
    cmd = [
        uv, "pip", "compile", str(source), "--universal", "--python-version", lowest_python,
        "--generate-hashes", "--only-binary", ":all:", "--default-index", INDEX_URL,
        "--no-config", "--no-header", "--quiet", "--output-file", str(out),
    ]  # fmt: skip
    overrides = out.with_name(out.name + ".overrides")
    overrides.write_text("".join(f"{name} ; {NEVER}\n" for name in sorted(NOT_AT_SERVING)))
    cmd += ["--override", str(overrides)]
    # Like pip's --isolated: this machine's uv settings (extra indexes) stay out of the lock.
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") or k == "UV_CACHE_DIR"}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise DependencyInstallError(f"uv could not resolve {source}:\n{proc.stderr.strip()}")
    # uv names the overrides file in its "# via" comments: a temporary path, not the rule's.
    text = out.read_text(encoding="utf-8")
    out.write_text(text.replace(str(overrides), OVERRIDES_SOURCE), encoding="utf-8")


def check_installs(lock_path: Path, lock_text: str, target: BuildTarget) -> None:
    """Run the build's pip command for target as a dry run; it must pick exactly the pins."""
    with tempfile.TemporaryDirectory(prefix="slipway-lock-") as tmp:
        report_path = Path(tmp) / "report.json"
        cmd = install_command(lock_path, target, Path(tmp) / "site")
        cmd += ["--dry-run", "--ignore-installed", "--report", str(report_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DependencyInstallError(
                f"pip cannot install {lock_path} for {target.name}:\n{proc.stderr.strip()}"
            )
        report = json.loads(report_path.read_text())
    got = {
        f"{canonicalize_name(i['metadata']['name'])}=={i['metadata']['version']}"
        for i in report.get("install", [])
    }
    want = {f"{p.name}=={p.version}" for p in pins(lock_text) if p.applies_to(target)}
    if got != want:
        raise LockError(
            f"pip would install {', '.join(sorted(got ^ want))} differently for {target.name} "
            f"than {lock_path} pins them (markers pip evaluates for this machine?)"
        )


def lock(
    source: Path = PYPROJECT,
    out: Path = LOCK_FILE,
    targets: Iterable[BuildTarget] = DEFAULT_TARGETS,
    progress: Callable[[str], None] | None = None,
    upgrade: bool = False,
) -> Path:
    """Write out: source resolved by uv, checked for every target; out is kept on failure.

    uv keeps the pins (and hashes) out already has while the requirements allow them;
    `upgrade` resolves afresh: the newest versions, with the hashes of all their wheels.
    """
    say = progress or (lambda _msg: None)
    targets = sorted(targets, key=lambda t: t.name)
    lowest = min((t.python for t in targets), key=lambda v: tuple(map(int, v.split("."))))
    with tempfile.TemporaryDirectory(prefix="slipway-lock-") as tmp:
        draft = Path(tmp) / out.name
        if out.is_file() and not upgrade:
            shutil.copyfile(out, draft)  # uv keeps these pins unless the requirements moved
        say(f"resolving {source} with uv for Python {lowest}+ on every platform")
        uv_compile(source, draft, lowest)
        text = header(source, targets) + "\n" + draft.read_text(encoding="utf-8")
        draft.write_text(text, encoding="utf-8")
        check_one_version(text, targets)
        for target in targets:
            say(f"checking that pip installs {out.name} for {target.name}")
            check_installs(draft, text, target)
    out.write_text(text, encoding="utf-8")
    return out
