"""`--param image=URI@sha256:...`: the function runs the container image (PackageType Image)
with the same routes, alias `live`, permission and role as the zip; bad images and SnapStart
with an image are refused at package time with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.serverless import test_template as zip_checks
from tests.serverless.conftest import cfn_lint, run_package
from tests.serverless.test_template import OPTIONS_ON, of_type, statements

DIGEST = "84deaed1b94e76f37db4906884778b3780097065264887e9ca3978db826ad62f"
IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway/predict@sha256:{DIGEST}"
IMAGE_ON = {"stage": "ci", "image": IMAGE}


@pytest.fixture(scope="module")
def image(packaged: Any) -> dict[str, Any]:
    return packaged(**IMAGE_ON)[1]


def without_code(template: dict[str, Any]) -> dict[str, Any]:
    """The template minus what legitimately differs between zip and image: the function's
    code properties, the layer, the upload folder."""
    out: dict[str, Any] = {}
    for key, res in template["Resources"].items():
        if res["Type"] == "AWS::Lambda::LayerVersion":
            continue
        if key == "PredictLambdaFunction":
            drop = {"Code", "Handler", "Runtime", "Layers", "PackageType"}
            res = {
                **res,
                "Properties": {k: v for k, v in res["Properties"].items() if k not in drop},
            }
        out[key] = res
    return {**template, "Resources": out, "Outputs": {}}


@pytest.mark.parametrize(
    "variant",
    [
        IMAGE_ON,
        {**IMAGE_ON, "arch": "x86_64", "stage": "prod"},
        {**OPTIONS_ON, "snapStart": "false", "image": IMAGE},
        {**IMAGE_ON, "flask": "true"},
    ],
    ids=["image", "image-x86_64", "image-options-on", "image-with-flask"],
)
def test_cfn_lint_finds_nothing_with_an_image(packaged: Any, variant: dict[str, str]) -> None:
    path, _ = packaged(**variant)
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_function_is_the_image_not_handler_and_layer(image: dict[str, Any]) -> None:
    fn = image["Resources"]["PredictLambdaFunction"]["Properties"]
    assert fn["PackageType"] == "Image"
    assert fn["Code"] == {"ImageUri": IMAGE}
    for absent in ("Handler", "Runtime", "Layers", "SnapStart"):
        assert absent not in fn
    assert fn["Architectures"] == ["arm64"]
    assert of_type(image, "AWS::Lambda::LayerVersion") == {}
    # No version in the stack: `slipway release` publishes them, the deploy runs it.
    assert of_type(image, "AWS::Lambda::Version") == {}


def test_arch_comes_from_the_param(packaged: Any) -> None:
    _, template = packaged(**IMAGE_ON, arch="x86_64")
    fn = template["Resources"]["PredictLambdaFunction"]["Properties"]
    assert fn["Architectures"] == ["x86_64"]


def test_image_keeps_routing_alias_and_roles(image: dict[str, Any]) -> None:
    # The zip template's own checks, on the image template.
    zip_checks.test_routes_integrate_with_the_alias_live_not_latest(image)
    zip_checks.test_only_the_alias_may_be_invoked_and_only_by_the_apis_role(image)
    zip_checks.test_the_role_reads_models_and_writes_logs_nothing_else(image)
    assert of_type(image, "AWS::Lambda::Alias") == {}


def test_everything_but_the_code_is_the_zip_template(packaged: Any, image: dict[str, Any]) -> None:
    zip_template = packaged(stage="ci")[1]
    assert without_code(image) == without_code(zip_template)
    # The role is the zip's, statement for statement.
    assert list(statements(image)) == list(statements(zip_template))


def test_with_flask_the_layer_stays_for_the_flask_zip(packaged: Any) -> None:
    _, template = packaged(**IMAGE_ON, flask="true")
    res = template["Resources"]
    assert res["PredictLambdaFunction"]["Properties"]["PackageType"] == "Image"
    assert res["FlaskLambdaFunction"]["Properties"]["Layers"] == [{"Ref": "RuntimeLambdaLayer"}]
    assert "RuntimeLambdaLayer" in res


@pytest.mark.parametrize(
    ("params", "says"),
    [
        (
            {"image": IMAGE, "snapStart": "true"},
            "--param snapStart=true with --param image: Lambda supports SnapStart for zip "
            "functions only, not container images",
        ),
        (
            {"image": IMAGE.split("@")[0] + ":latest"},
            "use ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:DIGEST",
        ),
        ({"image": "docker.io/library/python@sha256:" + DIGEST}, "Amazon ECR, pinned by digest"),
        ({"image": IMAGE.replace("us-east-1", "eu-west-1")}, "the image is in eu-west-1 but"),
    ],
    ids=["snapstart", "tag-not-digest", "not-ecr", "other-region"],
)
def test_refused_at_package_time_with_a_clear_message(
    tmp_path: Path, params: dict[str, str], says: str
) -> None:
    proc = run_package(tmp_path, {"stage": "ci"}, params)
    assert proc.returncode != 0
    output = " ".join((proc.stdout + proc.stderr).split())
    assert says in output, output[-3000:]
    assert not (tmp_path / "package").exists() or not any((tmp_path / "package").iterdir())
