"""One contract for aliases, run against every platform: the same verbs, the same semantics.

The local platform runs for real on a state directory; AWS is moto in process. Each gets
two published versions, then the same sequence of `alias set` / `rollback` through the real
argument parser, and must report the same targets and histories.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra import cli
from infra.release import verbs
from infra.release.exceptions import Conflict
from infra.release.model import History, Target
from infra.release.platform import Platform
from tests.infra.aws.conftest import FUNCTION, two_models, world  # noqa: F401 - fixtures

Make = Callable[[], Platform[Any]]


class Harness:
    def __init__(self, make: Callable[[argparse.Namespace], Platform[Any]], flags: list[str]):
        self.make, self.flags = make, flags

    def cli(self, *argv: str) -> int:
        args = cli.parser().parse_args([*argv, *self.flags])
        verb = verbs.VERBS["alias_set" if argv[0] == "alias" else argv[0]]
        return verbs.run(verb, lambda: self.make(args), args)

    def platform(self) -> Platform[Any]:
        return self.make(cli.parser().parse_args(["status", *self.flags]))

    def live(self) -> tuple[Target | None, History]:
        snap = self.platform().read("live")
        return snap.target, snap.history


def local_harness(tmp_path: Path) -> Harness:
    from infra.local.platform import commands
    from infra.local.state.store import StateStore, Version

    root = tmp_path / "state"
    with StateStore(root).change() as box:
        for n in (1, 2):
            v = Version(number=0, handler="h.handler", code=("/x",), env={}, model=f"digits@{n}")
            box[0], _ = box[0].publish(v)
    return Harness(commands.platform, ["--target", "local", "--state", str(root)])


def aws_harness(world: dict[str, Any], store: Path) -> Harness:  # noqa: F811
    from infra.aws import commands
    from tests.infra.aws.helpers import run

    for n in (1, 2):
        assert run(world["aws"], "publish", "--model", f"digits@{n}", store=store) == 0
    return Harness(
        lambda args: commands.platform(args, world["aws"]),
        ["--target", "aws", "--function", FUNCTION],
    )


@pytest.fixture(params=["local", "aws"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "local":
        return local_harness(tmp_path)
    return aws_harness(request.getfixturevalue("world"), request.getfixturevalue("two_models"))


def test_set_canary_promote_and_rollback_walk_the_same_history(harness: Harness) -> None:
    assert harness.live() == (None, History())
    assert harness.cli("alias", "set", "live", "1") == 0
    first, history = harness.live()
    assert first == Target("1") and history.earlier == ()
    # Setting the target the alias already has changes nothing, history included.
    token = harness.platform().read("live").token
    assert harness.cli("alias", "set", "live", "1") == 0
    assert harness.live() == (first, history) and harness.platform().read("live").token == token
    assert harness.cli("alias", "set", "live", "1", "--canary", "2", "--weight", "0.25") == 0
    assert harness.cli("alias", "set", "live", "2") == 0
    target, history = harness.live()
    assert target == Target("2")
    assert [e.target for e in history.earlier] == [Target("1"), Target("1", "2", 0.25)]
    assert harness.cli("rollback", "live") == 0
    assert harness.live()[0] == Target("1", "2", 0.25)
    assert harness.cli("rollback", "live") == 0
    assert harness.live()[0] == Target("1")
    assert harness.cli("rollback", "live") == 1
    assert harness.live()[0] == Target("1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("7",), "version 7 of"),
        (("$LATEST",), "$LATEST is mutable"),
        (("0",), "published version number"),
        (("1", "--canary", "1", "--weight", "0.5"), "another version"),
        (("1", "--canary", "2", "--weight", "1.5"), "outside [0, 1]"),
        (("1", "--canary", "2"), "--canary needs --weight"),
        (("1", "--weight", "0.5"), "--weight needs --canary"),
    ],
)
def test_bad_targets_are_refused_alike_and_move_nothing(
    harness: Harness, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    assert harness.cli("alias", "set", "live", "2") == 0
    before = harness.live()
    capsys.readouterr()
    assert harness.cli("alias", "set", "live", *argv) == 1
    assert message in capsys.readouterr().err
    assert harness.live() == before


def test_a_stale_token_is_a_conflict_not_an_overwrite(tmp_path: Path) -> None:
    # moto ignores a stale RevisionId on UpdateAlias, so AWS's guard is proven against AWS's
    # error shapes with botocore's Stubber (tests/infra/aws/test_faults.py) instead.
    harness = local_harness(tmp_path)
    assert harness.cli("alias", "set", "live", "1") == 0
    platform = harness.platform()
    stale = platform.read("live")
    assert harness.cli("alias", "set", "live", "2") == 0  # someone else moves it meanwhile
    with pytest.raises(Conflict):
        platform.route("live", Target("1", "2", 0.5), stale.history, stale.token, create=False)
    assert harness.live()[0] == Target("2")
