from __future__ import annotations

import platform
import sys

import pytest

from infra.build.exceptions import BuildError
from infra.build.platforms import BuildTarget, host_target, pip_target_args, platform_tags


def test_host_target_is_this_machine() -> None:
    target = host_target()
    assert target.python == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert target.arch == {"aarch64": "arm64"}.get(platform.machine(), platform.machine())


def test_manylinux_tags_go_down_from_amazon_linux_2023_glibc() -> None:
    arm = platform_tags("arm64")
    assert arm[0] == "manylinux_2_34_aarch64" and "manylinux_2_28_aarch64" in arm
    assert arm[-1] == "manylinux2014_aarch64" and "manylinux_2_35_aarch64" not in arm
    x86 = platform_tags("x86_64")
    assert "manylinux_2_17_x86_64" in x86 and x86[-1] == "manylinux1_x86_64"


def test_pip_args_use_pypi_only_and_wheels_only() -> None:
    args = pip_target_args(BuildTarget("arm64", "3.12"))
    assert "--isolated" in args and "--only-binary=:all:" in args
    assert args[args.index("--index-url") + 1] == "https://pypi.org/simple"
    assert args[args.index("--abi") + 1] == "cp312"


@pytest.mark.parametrize(("arch", "python"), [("arm", "3.12"), ("x86_64", "312"), ("arm64", "")])
def test_bad_targets_are_refused(arch: str, python: str) -> None:
    with pytest.raises(BuildError):
        BuildTarget(arch, python)
