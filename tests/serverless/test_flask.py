"""The optional Flask function (`--param flask=true`): present only when asked for, least
privilege, on the HTTP API under /flask, and its routes reach the unchanged Flask app."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_event
from tests.serverless.conftest import ROOT, cfn_lint
from tests.serverless.test_template import LIVE_ARN, OPTIONS_ON, as_list, of_type, statements

FLASK_ON = {"stage": "ci", "flask": "true"}


@pytest.fixture(scope="module")
def flask_on(packaged: Any) -> dict[str, Any]:
    return packaged(**FLASK_ON)[1]


def flask_ids(template: dict[str, Any]) -> list[str]:
    """Every resource or output that names the Flask function or its routes."""
    found = [k for k, v in template["Resources"].items() if "flask" in json.dumps([k, v]).lower()]
    return found + [k for k in template.get("Outputs", {}) if "flask" in k.lower()]


def without_upload_time(template: dict[str, Any]) -> str:
    return re.sub(r"serverless/slipway/ci/[^/]+/", "UPLOAD/", json.dumps(template, sort_keys=True))


def test_off_by_default_and_with_flask_false(packaged: Any) -> None:
    default = packaged(stage="ci")[1]
    assert flask_ids(default) == []
    # Exactly the predict-only template (only the upload folder's timestamp differs).
    explicit = packaged(stage="ci", flask="false")[1]
    assert without_upload_time(explicit) == without_upload_time(default)


@pytest.mark.parametrize("variant", [FLASK_ON, {**OPTIONS_ON, "flask": "true"}], ids=["on", "jwt"])
def test_cfn_lint_finds_nothing_with_flask_on(packaged: Any, variant: dict[str, str]) -> None:
    path, _ = packaged(**variant)
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_flask_function_runs_the_flask_handler_from_its_artifact(
    flask_on: dict[str, Any],
) -> None:
    res = flask_on["Resources"]
    fn = res["FlaskLambdaFunction"]["Properties"]
    assert fn["Handler"] == "functions/flask_api/handler.handler"
    assert fn["Code"]["S3Key"].endswith("/flask_function.zip")
    assert res["PredictLambdaFunction"]["Properties"]["Code"]["S3Key"].endswith("/function.zip")
    assert fn["Layers"] == [{"Ref": "RuntimeLambdaLayer"}]
    assert fn["Role"] == {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]}
    assert fn["Runtime"] == "python3.12" and fn["Architectures"] == ["arm64"]
    # The model is state: the deploy gives it the model predict's live serves then
    # (infra/build/osls_release.js); a package made offline names none.
    env = fn["Environment"]["Variables"]
    assert not {"SLIPWAY_MODEL", "SLIPWAY_MODEL_SHA256"} & set(env)
    groups = of_type(flask_on, "AWS::Logs::LogGroup")
    assert sorted(groups) == ["FlaskLogGroup", "PredictLogGroup"]
    assert groups["FlaskLogGroup"]["Properties"]["LogGroupName"] == "/aws/lambda/slipway-ci-flask"
    assert groups["FlaskLogGroup"]["Properties"]["RetentionInDays"] == 30


def test_flask_routes_go_to_its_alias_live_with_the_same_auth(packaged: Any) -> None:
    _, template = packaged(**OPTIONS_ON, flask="true")
    routes = of_type(template, "AWS::ApiGatewayV2::Route")
    keys = sorted(r["Properties"]["RouteKey"] for r in routes.values())
    assert keys == [
        "GET /flask/health",
        "GET /flask/model",
        "GET /health",
        "GET /model",
        "POST /flask/predict",
        "POST /predict",
    ]
    predict_auth = routes["HttpApiRoutePostPredict"]["Properties"]["AuthorizationType"]
    for route in routes.values():
        props = route["Properties"]
        assert props["AuthorizationType"] == predict_auth
        integration_id = props["Target"]["Fn::Join"][1][1]["Ref"]
        uri = template["Resources"][integration_id]["Properties"]["IntegrationUri"]
        if not props["RouteKey"].split(" ")[1].startswith("/flask/"):
            assert uri == LIVE_ARN  # predict's live: the release's, not the stack's
            continue
        alias = template["Resources"][uri["Ref"]]["Properties"]
        assert alias["Name"] == "live" and alias["FunctionName"] == {"Ref": "FlaskLambdaFunction"}
        version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert template["Resources"][version_id]["Type"] == "AWS::Lambda::Version"
    permission = template["Resources"]["FlaskLiveInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "FlaskLiveAlias"}
    assert permission["SourceArn"]["Fn::Join"][1][-2:] == [{"Ref": "HttpApi"}, "/*/*/flask/*"]
    assert len(of_type(template, "AWS::Lambda::Permission")) == 1


def test_no_star_iam_and_the_same_roles_with_flask_on(flask_on: dict[str, Any]) -> None:
    assert sorted(of_type(flask_on, "AWS::IAM::Role")) == [
        "HttpApiLiveRole",
        "IamRoleLambdaExecution",
    ]
    found = list(statements(flask_on))
    for name, st in found:
        assert "*" not in as_list(st["Action"]), (name, st)
        assert "*" not in as_list(st["Resource"]), (name, st)
    # The framework scopes the log permissions to this service's functions' log groups.
    for _, st in found:
        if "logs:PutLogEvents" in as_list(st["Action"]):
            for resource in as_list(st["Resource"]):
                assert "log-group:/aws/lambda/slipway-ci" in json.dumps(resource)


def test_a_flask_param_other_than_true_or_false_is_refused(tmp_path: Path) -> None:
    from tests.serverless.conftest import package

    with pytest.raises(AssertionError, match=r"--param flask=yes: use true or false"):
        package(tmp_path, {"stage": "ci"}, {"flask": "yes"})


_INVOKE = """
import json, sys
from functions.flask_api.handler import handler
out = [handler(event, None) for event in json.load(sys.stdin)]
print(json.dumps([[r["statusCode"], r.get("body")] for r in out]))
"""


def test_the_routes_reach_the_unchanged_app_through_serverless_wsgi(
    flask_on: dict[str, Any], example_store: Path, digits_test_rows: Any
) -> None:
    # The function's own environment from the template, as Lambda would set it.
    env = flask_on["Resources"]["FlaskLambdaFunction"]["Properties"]["Environment"]["Variables"]
    base = env["API_GATEWAY_BASE_PATH"]
    keys = sorted(
        r["Properties"]["RouteKey"] for r in of_type(flask_on, "AWS::ApiGatewayV2::Route").values()
    )
    keys = [k for k in keys if k.split(" ")[1].startswith(f"/{base}/")]
    events = []
    for key in keys:
        method, path = key.split(" ")
        event = load_event("http_api_v2")
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = method
        event["routeKey"] = f"{method} {path}"
        event["body"] = json.dumps({"inputs": digits_test_rows[:2].tolist()})
        event["isBase64Encoded"] = False
        events.append(event)
    assert keys == ["GET /flask/health", "GET /flask/model", "POST /flask/predict"]
    proc = subprocess.run(
        [sys.executable, "-c", _INVOKE],
        input=json.dumps(events),
        env={"API_GATEWAY_BASE_PATH": base, "SLIPWAY_STORE": str(example_store), "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    answers = dict(zip(keys, json.loads(proc.stdout.strip().splitlines()[-1]), strict=True))
    assert [status for status, _ in answers.values()] == [200, 200, 200], answers
    assert json.loads(answers["GET /flask/health"][1])["status"] == "ok"
    assert "name" in json.loads(answers["GET /flask/model"][1])
    assert len(json.loads(answers["POST /flask/predict"][1])["outputs"]["label"]) == 2
