from __future__ import annotations

import pytest

from infra.aws.exceptions import InvalidRequest
from infra.aws.history import (
    MAX_DESCRIPTION,
    History,
    Target,
    routing_config,
    target,
    target_from_alias,
)
from infra.aws.settings import Settings


def test_history_round_trips_through_an_alias_description() -> None:
    h = History(100).push(Target("1"), 200).push(Target("1", "2", 0.1), 300)
    text = h.encode()
    assert text == "slipway:1 since=300 prev=1@100,1+2:0.1@200"
    assert History.decode(text) == h
    last, rest = History.decode(text).pop()
    assert last.target == Target("1", "2", 0.1) and last.since == 200
    assert rest == History(200, (h.earlier[0],))


def test_long_history_drops_the_oldest_entries_to_fit_lambdas_limit() -> None:
    h = History(0)
    for n in range(1, 60):
        h = h.push(Target(str(n), str(n + 1), 0.125), 1_700_000_000 + n)
    text = h.encode()
    assert len(text) <= MAX_DESCRIPTION and text.endswith(" truncated")
    decoded = History.decode(text)
    assert decoded.truncated and decoded.earlier[-1] == h.earlier[-1]
    assert len(decoded.earlier) < len(h.earlier)


@pytest.mark.parametrize("text", [None, "", "made by hand", "slipway:1 since=x prev=1@y"])
def test_descriptions_not_written_by_slipway_are_an_empty_history(text) -> None:
    assert History.decode(text) == History()


def test_routing_config_uses_lambdas_field_names() -> None:
    assert routing_config(Target("3", "4", 0.25)) == {"AdditionalVersionWeights": {"4": 0.25}}
    assert routing_config(Target("3")) == {"AdditionalVersionWeights": {}}
    alias = {"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {"4": 0.25}}}
    assert target_from_alias(alias) == Target("3", "4", 0.25)
    assert target_from_alias({"FunctionVersion": "3"}) == Target("3")


def test_targets_follow_lambdas_alias_rules() -> None:
    assert target("2", "3", 1.0) == Target("2", "3", 1.0)
    with pytest.raises(InvalidRequest):
        target("0")
    with pytest.raises(InvalidRequest):
        target("2", "3", -0.1)


def test_function_name_from_flag_then_environment_then_serverless_naming() -> None:
    env = {"SLIPWAY_FUNCTION": "from-env", "SLIPWAY_STAGE": "prod"}
    assert Settings.from_mapping(env, function="from-flag").function == "from-flag"
    assert Settings.from_mapping(env).function == "from-env"
    assert Settings.from_mapping({"SLIPWAY_STAGE": "prod"}).function == "slipway-prod-predict"
    assert Settings.from_mapping({}).function == "slipway-dev-predict"
    assert Settings.from_mapping({"SLIPWAY_S3_STORE": "s3://b/p"}).s3_store == "s3://b/p"
