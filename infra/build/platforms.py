"""Build targets and the wheel platform tags pip may pick for each."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

from infra.build.exceptions import BuildError

ARCHES = ("arm64", "x86_64")
# Lambda's name for the architecture -> the wheel tag's.
WHEEL_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's python3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34); a wheel built for an
# older glibc runs there too. Python 3.11 builds are for the local platform (hosts with a
# newer glibc); Lambda's own python3.11 is Amazon Linux 2 (glibc 2.26) and is not a target.
GLIBC_MINOR = 34
INDEX_URL = "https://pypi.org/simple"


@dataclass(frozen=True)
class BuildTarget:
    arch: str  # "arm64" | "x86_64"
    python: str  # "3.12", "3.11", ...

    def __post_init__(self) -> None:
        if self.arch not in ARCHES:
            raise BuildError(f"architecture {self.arch!r}: use one of {', '.join(ARCHES)}")
        major, _, minor = self.python.partition(".")
        if not (major == "3" and minor.isdigit()):
            raise BuildError(f"python {self.python!r}: use MAJOR.MINOR, e.g. 3.12")

    @property
    def name(self) -> str:
        return f"{self.python}-{self.arch}"

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")


def host_target() -> BuildTarget:
    """This machine's architecture and Python version."""
    machine = platform.machine().lower()
    arch = "arm64" if machine in ("aarch64", "arm64") else machine
    return BuildTarget(arch=arch, python=f"{sys.version_info.major}.{sys.version_info.minor}")


def platform_tags(arch: str, glibc_minor: int = GLIBC_MINOR) -> list[str]:
    """manylinux tags from the newest allowed glibc down; pip does not expand these itself."""
    wheel_arch = WHEEL_ARCH[arch]
    lowest = 17 if wheel_arch == "aarch64" else 5
    tags = [f"manylinux_2_{m}_{wheel_arch}" for m in range(glibc_minor, lowest - 1, -1)]
    # The legacy aliases of manylinux_2_17, _2_12 and _2_5.
    tags.append(f"manylinux2014_{wheel_arch}")
    if wheel_arch == "x86_64":
        tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return tags


def pip_target_args(target: BuildTarget) -> list[str]:
    """pip options that select manylinux wheels for target from PyPI, ignoring local config."""
    args = [
        "--isolated",  # this machine's pip.conf adds local indexes and constraints: not here
        "--disable-pip-version-check",
        "--no-input",
        "--index-url",
        INDEX_URL,
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.python,
        "--abi",
        target.abi,
    ]
    for tag in platform_tags(target.arch):
        args += ["--platform", tag]
    return args
