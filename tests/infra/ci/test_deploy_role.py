"""infra/ci/github-oidc.yml: cfn-lint passes, the trust is this repository's environment
only, no action is a wildcard, every resource is the stage's, and the role covers every AWS
call slipway's release verbs make (read from the code, not listed by hand)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.ci.workflow import ROOT

TEMPLATE = ROOT / "infra" / "ci" / "github-oidc.yml"
# IAM defines no resource type for these, so Resource "*" is the only form it accepts.
RESOURCELESS = {"cloudformation:ValidateTemplate", "cloudwatch:GetMetricStatistics"}
STAGE_SCOPED = re.compile(
    r"slipway-\$\{Stage\}|:layer:runtime|apigateway:\$\{AWS::Region\}::/(apis|tags)"
)


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Sub, !Ref, …) read as {"Fn::X": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


Loader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=Loader)  # noqa: S506
    return data


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["DeployRole"]["Properties"]
    (policy,) = role["Policies"]
    found: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def text(value: Any) -> str:
    return value["Fn::Sub"] if isinstance(value, dict) else str(value)


def test_cfn_lint_passes() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_trust_is_this_repository_in_this_environment_only(template: dict[str, Any]) -> None:
    trust = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}  # no StringLike: no wildcards
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    sub = condition["token.actions.githubusercontent.com:sub"]
    assert sub == {"Fn::Sub": "repo:${Repository}:environment:${Environment}"}
    provider = template["Resources"]["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_no_wildcard_action_and_every_resource_is_the_stages(template: dict[str, Any]) -> None:
    for st in statements(template):
        assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st
        actions = as_list(st["Action"])
        assert all("*" not in a for a in actions), st["Sid"]
        for resource in as_list(st["Resource"]):
            if resource == "*":
                assert set(actions) <= RESOURCELESS, st["Sid"]
            else:
                assert STAGE_SCOPED.search(text(resource)), (st["Sid"], resource)
    # Each role may be passed to its one service only: the functions' to Lambda, the API's
    # (it invokes `live`) to API Gateway.
    passed = {
        text(s["Resource"]).rsplit("-", 1)[-1]: s["Condition"]
        for s in statements(template)
        if "iam:PassRole" in as_list(s["Action"])
    }
    assert passed == {
        "lambdaRole": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        "apiRole": {"StringEquals": {"iam:PassedToService": "apigateway.amazonaws.com"}},
    }


def granted(template: dict[str, Any]) -> set[str]:
    return {a for st in statements(template) for a in as_list(st["Action"])}


def boto_calls() -> set[str]:
    """IAM actions of the boto3 calls the release verbs make (infra/aws, the S3 store)."""
    names = {"lam": "lambda", "s3": "s3", "cloudwatch": "cloudwatch", "client": "s3"}
    found: set[str] = set()
    for path in [*sorted((ROOT / "infra/aws").glob("*.py")), ROOT / "model_store/backends/s3.py"]:
        source = path.read_text()
        for client, method in re.findall(r"\.(lam|s3|cloudwatch|client)\.([a-z_]+)\(", source):
            if method in {"get_paginator", "get_waiter", "exceptions"}:
                continue
            found.add(f"{names[client]}:{method}")
        found |= {f"lambda:{m}" for m in re.findall(r'get_paginator\("([a-z_]+)"\)', source)}
        if "get_waiter(" in source:
            found.add("lambda:get_function_configuration")  # what Lambda's waiters poll
    return found


# boto3 method → IAM action, where the action is not the method's CamelCase.
IAM_OF = {
    "lambda:invoke": "lambda:InvokeFunction",
    "s3:head_object": "s3:GetObject",
    "s3:list_objects_v2": "s3:ListBucket",
    "s3:head_bucket": "s3:ListBucket",
}


def test_the_role_allows_every_call_slipway_release_makes(template: dict[str, Any]) -> None:
    calls = boto_calls()
    assert {"lambda:publish_version", "lambda:update_alias", "s3:put_object"} <= calls
    allowed = granted(template)
    for call in sorted(calls):
        service, method = call.split(":")
        action = IAM_OF.get(call) or f"{service}:{''.join(w.title() for w in method.split('_'))}"
        assert action in allowed, f"{call} needs {action}"
