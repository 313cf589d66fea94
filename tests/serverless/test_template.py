"""The CloudFormation that `osls package` makes of serverless.yml: routing, permissions, IAM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.serverless.conftest import cfn_lint

SHA = "84deaed1b94e76f37db4906884778b3780097065264887e9ca3978db826ad62f"
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
    aliases = of_type(default, "AWS::Lambda::Alias")
    for integration in integrations.values():
        props = integration["Properties"]
        assert props["IntegrationType"] == "AWS_PROXY"
        alias_id = props["IntegrationUri"]["Ref"]  # Ref of an alias is its ARN
        alias = aliases[alias_id]["Properties"]
        assert alias["Name"] == "live"
        assert alias["FunctionName"] == {"Ref": "PredictLambdaFunction"}
        version_id, attr = alias["FunctionVersion"]["Fn::GetAtt"]
        assert attr == "Version"
        assert default["Resources"][version_id]["Type"] == "AWS::Lambda::Version"
        assert default["Resources"][version_id]["Properties"]["FunctionName"] == {
            "Ref": "PredictLambdaFunction"
        }


def test_only_the_alias_may_be_invoked_and_only_by_this_api(default: dict[str, Any]) -> None:
    permissions = of_type(default, "AWS::Lambda::Permission")
    assert len(permissions) == 1  # none on the function itself ($LATEST)
    props = next(iter(permissions.values()))["Properties"]
    alias_id = next(iter(of_type(default, "AWS::Lambda::Alias")))
    assert props["FunctionName"] == {"Ref": alias_id}
    assert props["Principal"] == "apigateway.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    api_id = next(iter(of_type(default, "AWS::ApiGatewayV2::Api")))
    parts = props["SourceArn"]["Fn::Join"][1]
    assert parts[:2] == ["arn:", {"Ref": "AWS::Partition"}]
    assert ":execute-api:" in parts and {"Ref": "AWS::AccountId"} in parts
    assert parts[-2:] == [{"Ref": api_id}, "/*"]


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
    assert list(roles) == ["IamRoleLambdaExecution"]
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
    assert str(default["Parameters"]["ProvisionedConcurrency"]["Default"]) == "0"
    assert default["Parameters"]["EndpointAuth"]["Default"] == "none"
    env = fn["Environment"]["Variables"]
    model = env["SLIPWAY_MODEL"]["Fn::Join"][1]
    assert model[:3] == ["s3://", {"Ref": "ModelBucket"}, "/models/"]
    assert model[3] == {"Fn::Join": ["/", {"Fn::Split": ["@", {"Ref": "ModelRef"}]}]}
    assert env["SLIPWAY_MODEL_SHA256"] == {"Ref": "ModelSha256"}
    assert default["Parameters"]["ModelRef"]["Default"] == "digits@1"
    assert default["Parameters"]["ModelSha256"]["Default"] == ""
    groups = of_type(default, "AWS::Logs::LogGroup")
    assert [g["Properties"]["RetentionInDays"] for g in groups.values()] == [30]
    layer = default["Resources"]["RuntimeLambdaLayer"]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert layer["CompatibleArchitectures"] == ["arm64"]


def test_stage_region_model_and_arch_are_parameters(packaged: Any) -> None:
    _, template = packaged(
        stage="prod",
        region="eu-west-1",
        model="digits@3",
        modelSha256=SHA,
        arch="x86_64",
        logRetentionDays="90",
    )
    fn = template["Resources"]["PredictLambdaFunction"]["Properties"]
    assert fn["FunctionName"] == "slipway-prod-predict"
    assert fn["Architectures"] == ["x86_64"]
    params = template["Parameters"]
    assert params["ModelRef"]["Default"] == "digits@3"
    assert params["ModelSha256"]["Default"] == SHA
    groups = of_type(template, "AWS::Logs::LogGroup")
    assert [g["Properties"]["RetentionInDays"] for g in groups.values()] == [90]
    layer = template["Resources"]["RuntimeLambdaLayer"]["Properties"]
    assert layer["CompatibleArchitectures"] == ["x86_64"]


def test_options_switch_on_snapstart_concurrency_and_jwt(packaged: Any) -> None:
    _, template = packaged(**OPTIONS_ON)
    fn = template["Resources"]["PredictLambdaFunction"]["Properties"]
    assert fn["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    params = template["Parameters"]
    assert str(params["ProvisionedConcurrency"]["Default"]) == "2"
    assert str(params["ReservedConcurrency"]["Default"]) == "5"
    assert params["EndpointAuth"]["Default"] == "jwt"
    assert params["JwtIssuer"]["Default"] == OPTIONS_ON["jwtIssuer"]
    aliases = of_type(template, "AWS::Lambda::Alias")
    assert [a["Properties"]["Name"] for a in aliases.values()] == ["live"]  # no "snapstart"
    alias = aliases["PredictLiveAlias"]["Properties"]
    assert alias["ProvisionedConcurrencyConfig"]["Fn::If"][1] == {
        "ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}
    }
    authorizer = template["Resources"]["HttpApiJwtAuthorizer"]
    assert authorizer["Condition"] == "AuthJwt"
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    # The routes still go to the alias live, also with SnapStart on.
    integration = next(iter(of_type(template, "AWS::ApiGatewayV2::Integration").values()))
    assert integration["Properties"]["IntegrationUri"] == {"Ref": "PredictLiveAlias"}


def test_a_model_without_version_or_a_bad_sha_fails_the_lint(packaged: Any) -> None:
    path, _ = packaged(stage="ci", model="digits", modelSha256="not-a-sha")
    result = cfn_lint(path)
    assert result.returncode & 2, result.stdout  # errors, not only warnings
    assert result.stdout.count("E2015 Default should be allowed by AllowedPattern") == 2
