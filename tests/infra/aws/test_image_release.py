"""`slipway publish|release --target aws --image-uri URI@sha256:...`: an Image function's code
release, on the same path as a zip (UpdateFunctionCode, waiters, guarded PublishVersion), and
the package-type and URI checks that refuse it before anything changes (moto's Lambda)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.aws.exceptions import InvalidRequest
from infra.aws.publish import CodeChange
from tests.infra.aws.conftest import (
    ACCOUNT,
    FUNCTION,
    REGION,
    function_zip,
    queue_reply,
    real_reply,
)
from tests.infra.aws.helpers import run

REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/slipway/predict"
IMAGE_1 = f"{REPO}@sha256:{'1' * 64}"
IMAGE_2 = f"{REPO}@sha256:{'2' * 64}"
FAST = ("--wait", "30", "--poll", "10")


@pytest.fixture
def image_world(world: dict[str, Any]) -> dict[str, Any]:
    """The world with the function an `osls deploy --param image=IMAGE_1` makes."""
    lam = world["lambda"]
    role = lam.get_function_configuration(FunctionName=FUNCTION)["Role"]
    lam.delete_function(FunctionName=FUNCTION)
    lam.create_function(
        FunctionName=FUNCTION,
        Role=role,
        PackageType="Image",
        Code={"ImageUri": IMAGE_1},
        Environment={"Variables": {"SLIPWAY_MAX_BATCH": "100"}},
    )
    return world


def versions(world: dict[str, Any]) -> list[str]:
    found = world["lambda"].list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    return [v["Version"] for v in found if v["Version"] != "$LATEST"]


def image_of(world: dict[str, Any], qualifier: str | None = None) -> str:
    extra = {"Qualifier": qualifier} if qualifier else {}
    found = world["lambda"].get_function(FunctionName=FUNCTION, **extra)
    return str(found["Code"]["ImageUri"])


def test_publish_with_an_image_updates_the_code_and_pins_model_and_image(
    image_world, two_models, capsys
) -> None:
    argv = ("publish", "--model", "digits@2", "--image-uri", IMAGE_2)
    assert run(image_world["aws"], *argv, store=two_models) == 0
    assert "published version 1 of slipway-dev-predict serving digits@2" in capsys.readouterr().out
    assert versions(image_world) == ["1"]
    assert image_of(image_world, "1") == IMAGE_2
    config = image_world["lambda"].get_function_configuration(FunctionName=FUNCTION, Qualifier="1")
    assert config["PackageType"] == "Image"
    env = config["Environment"]["Variables"]
    assert env["SLIPWAY_MODEL"].endswith("/digits/2") and env["SLIPWAY_MAX_BATCH"] == "100"
    assert "Handler" not in config or not config["Handler"]


def test_release_with_an_image_smoke_tests_and_moves_live(image_world, two_models, capsys) -> None:
    queue_reply(real_reply(two_models, "digits@1"))
    argv = ("release", "--model", "digits@1", "--image-uri", IMAGE_2, *FAST)
    assert run(image_world["aws"], *argv, store=two_models) == 0
    out = capsys.readouterr().out
    assert "released version 1 (digits@1) on alias live" in out
    live = image_world["lambda"].get_alias(FunctionName=FUNCTION, Name="live")
    assert live["FunctionVersion"] == "1"
    assert image_of(image_world, "1") == IMAGE_2


def test_the_dry_run_plan_names_the_image_and_changes_nothing(
    image_world, two_models, capsys
) -> None:
    argv = ("publish", "--model", "digits@1", "--image-uri", IMAGE_2, "--dry-run")
    assert run(image_world["aws"], *argv, store=two_models) == 0
    assert f"update code from {IMAGE_2}" in capsys.readouterr().out
    assert versions(image_world) == [] and image_of(image_world) == IMAGE_1


def test_an_image_release_to_a_zip_function_is_refused_before_anything_changes(
    world, two_models, capsys
) -> None:
    lam = world["lambda"]
    before = lam.get_function_configuration(FunctionName=FUNCTION)
    argv = ("publish", "--model", "digits@1", "--image-uri", IMAGE_2)
    assert run(world["aws"], *argv, store=two_models) == 1
    err = capsys.readouterr().err
    assert "is a Zip function and Lambda cannot change a function's package type" in err
    assert "--param image=" in err
    after = lam.get_function_configuration(FunctionName=FUNCTION)
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after.get("Environment") == before.get("Environment")
    assert versions(world) == []
    assert not world["s3"].list_objects_v2(Bucket="slipway-models").get("Contents")


def test_a_zip_release_to_an_image_function_is_refused(
    image_world, two_models, tmp_path, capsys
) -> None:
    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(function_zip())
    argv = ("publish", "--model", "digits@1", "--zip", str(zip_path))
    assert run(image_world["aws"], *argv, store=two_models) == 1
    assert "is an Image function" in capsys.readouterr().err
    assert versions(image_world) == [] and image_of(image_world) == IMAGE_1


@pytest.mark.parametrize(
    "uri",
    [
        f"{REPO}:v1",  # a tag: it could move under the published version
        "docker.io/library/slipway@sha256:" + "1" * 64,
        f"docker://{IMAGE_2}",
        f"{REPO}:v1@sha256:{'1' * 64}",
        "x" * 10_000,
    ],
    ids=["tag", "not-ecr", "transport-prefix", "tag-and-digest", "huge"],
)
def test_image_uris_must_be_ecr_pinned_by_digest(uri: str) -> None:
    with pytest.raises(InvalidRequest, match=r"ACCOUNT\.dkr\.ecr\.REGION.*@sha256:DIGEST") as err:
        CodeChange.of(None, uri)
    assert len(str(err.value)) < 600


def test_a_bad_image_uri_is_a_clear_cli_error(image_world, two_models, capsys) -> None:
    argv = ("publish", "--model", "digits@1", "--image-uri", f"{REPO}:latest")
    assert run(image_world["aws"], *argv, store=two_models) == 1
    assert "a release pins a digest" in capsys.readouterr().err
    assert versions(image_world) == []


def test_an_image_in_another_region_is_refused(image_world, two_models, capsys) -> None:
    other = IMAGE_2.replace(f".{REGION}.", ".eu-west-1.")
    argv = ("publish", "--model", "digits@1", "--image-uri", other)
    assert run(image_world["aws"], *argv, store=two_models) == 1
    assert f"is in eu-west-1 but {FUNCTION} is in {REGION}" in capsys.readouterr().err
    assert versions(image_world) == []


def test_a_code_update_racing_ours_publishes_nothing(
    image_world, two_models, capsys, monkeypatch
) -> None:
    """Another deploy changes the image between our UpdateFunctionCode and the publish."""
    aws, lam = image_world["aws"], image_world["lambda"]
    ours = aws.update_code
    other = f"{REPO}@sha256:{'3' * 64}"

    def raced(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = ours(*args, **kwargs)
        lam.update_function_code(FunctionName=FUNCTION, ImageUri=other)
        return result

    monkeypatch.setattr(aws, "update_code", raced)
    argv = ("publish", "--model", "digits@1", "--image-uri", IMAGE_2)
    assert run(aws, *argv, store=two_models) == 4  # conflict
    assert "another deploy raced this one. Nothing was published" in capsys.readouterr().err
    assert versions(image_world) == []
