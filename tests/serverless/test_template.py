"""The CloudFormation that `osls package` makes of serverless.yml: routing, permissions, IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serverless.conftest import cfn_lint

OPTIONS_ON = {
    "snapStart": "true",
    "provisioned": "2",
    "reserved": "5",
    "auth": "jwt",
    "jwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example",
    "jwtAudience": "example-client",
}


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement in the template (roles, policies, bucket policies)."""
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            docs.append(props["PolicyDocument"])
        for doc in docs:
            for st in doc["Statement"]:
                yield name, st


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def default(packaged: Any) -> dict[str, Any]:
    return packaged(stage="ci")[1]


@pytest.mark.parametrize(
    "variant",
    [{"stage": "ci"}, {"stage": "prod", "region": "eu-west-1", "arch": "x86_64"}, OPTIONS_ON],
    ids=["defaults", "prod-x86_64", "options-on"],
)
def test_cfn_lint_finds_nothing(packaged: Any, variant: dict[str, str]) -> None:
    path, _ = packaged(**variant)
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


LIVE_ARN = {"Fn::Join": [":", [{"Fn::GetAtt": ["PredictLambdaFunction", "Arn"]}, "live"]]}


def test_routes_integrate_with_the_alias_live_not_latest(default: dict[str, Any]) -> None:
    routes = of_type(default, "AWS::ApiGatewayV2::Route")
    assert sorted(r["Properties"]["RouteKey"] for r in routes.values()) == [
        "GET /health",
        "GET /model",
        "POST /predict",
    ]
    integrations = of_type(default, "AWS::ApiGatewayV2::Integration")
    for route in routes.values():
        join = route["Properties"]["Target"]["Fn::Join"]
        assert join[0] == "/" and join[1][0] == "integrations"
        assert join[1][1]["Ref"] in integrations
    (integration,) = integrations.values()
    props = integration["Properties"]
    assert props["IntegrationType"] == "AWS_PROXY"
    assert props["IntegrationUri"] == LIVE_ARN  # ...:function:NAME:live, never $LATEST
    assert props["CredentialsArn"] == {"Fn::GetAtt": ["HttpApiLiveRole", "Arn"]}
    assert default["Outputs"]["LiveAliasArn"]["Value"] == LIVE_ARN


def test_live_is_not_a_stack_resource_and_no_version_is_the_stacks(
    default: dict[str, Any], packaged: Any
) -> None:
    # One owner of `live`: the release engine. The stack publishes no version of predict and
    # has no alias of it (SnapStart's included), so no stack update can move `live`.
    for template in (default, packaged(**OPTIONS_ON)[1]):
        assert not of_type(template, "AWS::Lambda::Alias")
        assert not of_type(template, "AWS::Lambda::Version")
        assert not [o for o in template["Outputs"] if "QualifiedArn" in o and "Predict" in o]
        fn = template["Resources"]["PredictLambdaFunction"]["Properties"]
        assert set(fn["Environment"]["Variables"]) == {"POWERTOOLS_SERVICE_NAME"}
        assert not {"ModelRef", "ModelSha256", "ProvisionedConcurrency"} & set(
            template["Parameters"]
        )


def test_only_the_alias_may_be_invoked_and_only_by_the_apis_role(default: dict[str, Any]) -> None:
    assert not of_type(default, "AWS::Lambda::Permission")  # none on $LATEST or a version
    role = default["Resources"]["HttpApiLiveRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": LIVE_ARN}
    assert role["RoleName"] == "slipway-ci-us-east-1-apiRole"


def test_no_statement_allows_everything_or_everywhere(packaged: Any) -> None:
    for variant in ({"stage": "ci"}, OPTIONS_ON):
        found = list(statements(packaged(**variant)[1]))
        assert found
        for name, st in found:
            assert "*" not in as_list(st["Action"]), (name, st)
            assert "*" not in as_list(st["Resource"]), (name, st)
            assert not st.get("NotAction") and not st.get("NotResource"), (name, st)


def test_the_role_reads_models_and_writes_logs_nothing_else(default: dict[str, Any]) -> None:
    roles = of_type(default, "AWS::IAM::Role")
    assert sorted(roles) == ["HttpApiLiveRole", "IamRoleLambdaExecution"]
    role = roles["IamRoleLambdaExecution"]["Properties"]
    assert "ManagedPolicyArns" not in role
    actions = {
        a
        for _, st in statements(default)
        if _ == "IamRoleLambdaExecution"
        for a in as_list(st["Action"])
    }
    assert actions == {
        "logs:CreateLogStream",
        "logs:CreateLogGroup",
        "logs:TagResource",
        "logs:PutLogEvents",
        "s3:GetObject",
    }
    for name, st in statements(default):
        if name == "IamRoleLambdaExecution" and "s3:GetObject" in as_list(st["Action"]):
            assert as_list(st["Action"]) == ["s3:GetObject"]
            assert st["Resource"] == {
                "Fn::Join": ["", [{"Fn::GetAtt": ["ModelBucket", "Arn"]}, "/models/*"]]
            }


def test_the_model_bucket_is_versioned_encrypted_and_private(default: dict[str, Any]) -> None:
    bucket = default["Resources"]["ModelBucket"]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")


def test_function_defaults(default: dict[str, Any]) -> None:
    fn = default["Resources"]["PredictLambdaFunction"]["Properties"]
    assert fn["Runtime"] == "python3.12"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "functions/predict/handler.handler"
    assert fn["FunctionName"] == "slipway-ci-predict"
    assert fn["Layers"] == [{"Ref": "RuntimeLambdaLayer"}]
    assert "SnapStart" not in fn
    assert fn["ReservedConcurrentExecutions"]["Fn::If"][0] == "ReservedOn"
    assert str(default["Parameters"]["ReservedConcurrency"]["Default"]) == "-1"
    assert default["Parameters"]["EndpointAuth"]["Default"] == "none"
    groups = of_type(default, "AWS::Logs::LogGroup")
    assert [g["Properties"]["RetentionInDays"] for g in groups.values()] == [30]
    layer = default["Resources"]["RuntimeLambdaLayer"]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert layer["CompatibleArchitectures"] == ["arm64"]


def test_stage_region_and_arch_shape_the_template_and_the_model_does_not(packaged: Any) -> None:
    _, template = packaged(
        stage="prod", region="eu-west-1", model="digits@3", arch="x86_64", logRetentionDays="90"
    )
    fn = template["Resources"]["PredictLambdaFunction"]["Properties"]
    assert fn["FunctionName"] == "slipway-prod-predict"
    assert fn["Architectures"] == ["x86_64"]
    # The model is the release's (state), not the stack's: the same template for any model.
    assert "digits@3" not in json.dumps(template)
    groups = of_type(template, "AWS::Logs::LogGroup")
    assert [g["Properties"]["RetentionInDays"] for g in groups.values()] == [90]
    layer = template["Resources"]["RuntimeLambdaLayer"]["Properties"]
    assert layer["CompatibleArchitectures"] == ["x86_64"]


def test_options_switch_on_snapstart_concurrency_and_jwt(packaged: Any) -> None:
    _, template = packaged(**OPTIONS_ON)
    fn = template["Resources"]["PredictLambdaFunction"]["Properties"]
    assert fn["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    params = template["Parameters"]
    assert str(params["ReservedConcurrency"]["Default"]) == "5"
    assert params["EndpointAuth"]["Default"] == "jwt"
    assert params["JwtIssuer"]["Default"] == OPTIONS_ON["jwtIssuer"]
    assert not of_type(template, "AWS::Lambda::Alias")  # no "snapstart": routes go to live
    # Versions are slipway's: cfn-lint is told why SnapStart has none in the stack.
    metadata = template["Resources"]["PredictLambdaFunction"]["Metadata"]
    assert metadata["cfn-lint"]["config"]["ignore_checks"] == ["W2530"]
    authorizer = template["Resources"]["HttpApiJwtAuthorizer"]
    assert authorizer["Condition"] == "AuthJwt"
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    # The routes still go to the alias live, also with SnapStart on.
    integration = next(iter(of_type(template, "AWS::ApiGatewayV2::Integration").values()))
    assert integration["Properties"]["IntegrationUri"] == LIVE_ARN
