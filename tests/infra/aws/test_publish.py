from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.aws.exceptions import Conflict, InvalidRequest
from infra.aws.publish import plan_publish
from model_store.backends.local import LocalStore
from model_store.manifest import sha256_hex
from tests.infra.aws.conftest import BUCKET, FUNCTION, S3_STORE
from tests.infra.aws.helpers import run


def env_of(config: dict[str, Any]) -> dict[str, str]:
    return dict(config["Environment"]["Variables"])


def test_publish_pushes_the_model_and_pins_it_in_a_version(world, two_models, capsys) -> None:
    lam, s3 = world["lambda"], world["s3"]
    assert run(world["aws"], "publish", "--model", "digits@2", store=two_models) == 0
    out = capsys.readouterr().out
    assert "published version 1 of slipway-dev-predict serving digits@2" in out
    manifest = LocalStore(two_models).manifest("digits", 2)
    # The version keeps its number on S3, and S3 holds the same bytes.
    stored = json.loads(
        s3.get_object(Bucket=BUCKET, Key="models/digits/2/manifest.json")["Body"].read()
    )
    assert stored["sha256"] == manifest.sha256
    blob = s3.get_object(Bucket=BUCKET, Key=f"models/digits/blobs/{manifest.sha256}.onnx")
    assert blob["Body"].read() == LocalStore(two_models).get("digits", 2)[1]
    version = lam.get_function_configuration(FunctionName=FUNCTION, Qualifier="1")
    assert env_of(version) == {
        "SLIPWAY_MAX_BATCH": "100",  # other variables are kept
        "SLIPWAY_MODEL": f"{S3_STORE}/digits/2",
        "SLIPWAY_MODEL_SHA256": manifest.sha256,
    }
    assert version["Description"] == f"slipway model digits@2 sha256 {manifest.sha256}"
    latest = lam.get_function_configuration(FunctionName=FUNCTION)
    assert latest["LastUpdateStatus"] == "Successful" and "digits@2" in latest["Description"]


def test_publish_is_idempotent_on_s3_and_reads_back_the_bytes(world, two_models) -> None:
    aws = world["aws"]
    source = LocalStore(two_models)
    first = plan_publish(aws, function=FUNCTION, ref="digits@1", source=source, s3_store=S3_STORE)
    assert first.model.upload_blob and first.model.write_manifest
    assert run(aws, "publish", "--model", "digits@1", store=two_models) == 0
    again = plan_publish(aws, function=FUNCTION, ref="digits@1", source=source, s3_store=S3_STORE)
    assert not again.model.upload_blob and not again.model.write_manifest
    assert again.changed == {}  # the function already serves it


def test_publish_refuses_a_diverged_s3_store_and_changes_nothing(world, two_models, capsys) -> None:
    lam, s3 = world["lambda"], world["s3"]
    other = LocalStore(two_models).manifest("digits", 2).to_dict() | {"version": 1}
    s3.put_object(Bucket=BUCKET, Key="models/digits/1/manifest.json", Body=json.dumps(other))
    assert run(world["aws"], "publish", "--model", "digits@1", store=two_models) == 4  # conflict
    err = capsys.readouterr().err
    assert "the stores diverged" in err and "new version" in err
    assert lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"][1:] == []
    assert env_of(lam.get_function_configuration(FunctionName=FUNCTION)) == {
        "SLIPWAY_MAX_BATCH": "100"
    }


def test_publish_needs_a_pinned_version_and_an_s3_store(world, two_models) -> None:
    aws = world["aws"]
    source = LocalStore(two_models)
    with pytest.raises(InvalidRequest, match="NAME@VERSION"):
        plan_publish(aws, function=FUNCTION, ref="digits", source=source, s3_store=S3_STORE)
    with pytest.raises(InvalidRequest, match="--s3-store"):
        plan_publish(aws, function=FUNCTION, ref="digits@1", source=source, s3_store=None)


def test_publish_defaults_to_the_store_the_function_already_reads(world, two_models) -> None:
    aws = world["aws"]
    assert run(aws, "publish", "--model", "digits@1", store=two_models) == 0
    plan = plan_publish(
        aws, function=FUNCTION, ref="digits@2", source=LocalStore(two_models), s3_store=None
    )
    assert plan.model.uri == f"{S3_STORE}/digits/2"


def test_a_code_release_updates_the_zip_and_publishes_it(world, two_models, tmp_path) -> None:
    from tests.infra.aws.conftest import function_zip

    lam = world["lambda"]
    zip_path = tmp_path / "predict.zip"
    zip_path.write_bytes(function_zip("def handler(event, context):\n    return {}\n"))
    args = ("publish", "--model", "digits@1", "--zip", str(zip_path))
    assert run(world["aws"], *args, store=two_models) == 0
    version = lam.get_function(FunctionName=FUNCTION, Qualifier="1")
    from infra.aws.publish import CodeChange

    code = CodeChange.of(str(zip_path), None)
    assert code is not None and version["Configuration"]["CodeSha256"] == code.sha256
    assert env_of(version["Configuration"])["SLIPWAY_MODEL"].endswith("/digits/1")


def test_zip_and_image_are_exclusive(world, two_models, tmp_path) -> None:
    from infra.aws.publish import CodeChange

    with pytest.raises(InvalidRequest, match="not both"):
        CodeChange.of("a.zip", "repo/image:1")
    with pytest.raises(InvalidRequest, match="no such file"):
        CodeChange.of(str(tmp_path / "missing.zip"), None)


def test_a_push_racing_ours_is_detected_before_the_function_changes(world, two_models) -> None:
    from infra.aws.publish import execute_publish

    lam, s3 = world["lambda"], world["s3"]
    source = LocalStore(two_models)
    plan = plan_publish(
        world["aws"], function=FUNCTION, ref="digits@1", source=source, s3_store=S3_STORE
    )
    # Between the plan and the push, someone else writes digits@1 with other bytes.
    other = source.manifest("digits", 2)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"models/digits/blobs/{other.sha256}.onnx",
        Body=source.get("digits", 2)[1],
    )
    racer = other.to_dict() | {"version": 1}
    s3.put_object(Bucket=BUCKET, Key="models/digits/1/manifest.json", Body=json.dumps(racer))
    with pytest.raises(Conflict, match="another push raced this one"):
        execute_publish(world["aws"], plan, source)
    assert env_of(lam.get_function_configuration(FunctionName=FUNCTION)) == {
        "SLIPWAY_MAX_BATCH": "100"
    }
    assert lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"][1:] == []


def test_the_users_description_follows_the_model_within_lambdas_limit(world, two_models) -> None:
    argv = ("publish", "--model", "digits@1", "--description", "retrained " + "x" * 300)
    assert run(world["aws"], *argv, store=two_models) == 0
    version = world["lambda"].get_function_configuration(FunctionName=FUNCTION, Qualifier="1")
    assert version["Description"].startswith("slipway model digits@1 sha256 ")
    assert ": retrained xxx" in version["Description"] and len(version["Description"]) == 256


def text_like_store(root: Path, example: Path) -> tuple[LocalStore, Any]:
    """digits@1 registered again with an asset beside model.onnx, as a text model carries its
    tokenizer.json (the function reads it at init, verified by its sha256)."""
    import dataclasses

    from model_store.assets import listing

    store = LocalStore(root)
    manifest, data = LocalStore(example).get("digits", 1)
    assets = {"tokenizer.json": b'{"version": "1.0", "model": {"type": "WordLevel"}}'}
    draft = dataclasses.replace(manifest, name="words", version=0, assets=listing(assets))
    registered, created = store.register(data, draft, assets)
    assert created and registered.assets == {"tokenizer.json": sha256_hex(assets["tokenizer.json"])}
    return store, registered


def test_publish_pushes_a_versions_assets_and_reads_them_back(
    world, example_store, tmp_path
) -> None:
    s3 = world["s3"]
    store, manifest = text_like_store(tmp_path / "store", example_store)
    key = f"models/words/blobs/{manifest.assets['tokenizer.json']}-tokenizer.json"
    plan = plan_publish(
        world["aws"], function=FUNCTION, ref="words@1", source=store, s3_store=S3_STORE
    )
    assert plan.model.upload_assets == ("tokenizer.json",)
    assert run(world["aws"], "publish", "--model", "words@1", store=tmp_path / "store") == 0
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == store.assets(manifest)["tokenizer.json"]
    # What the function's init reads: the manifest, the model and the asset, all verified.
    from model_store.backends.s3 import S3Store

    remote = S3Store.from_uri(S3_STORE, client=s3)
    stored, _ = remote.get_uri(f"{S3_STORE}/words/1")
    assert remote.assets(stored) == store.assets(manifest)

    # A version pushed before its assets were (an older Slipway): the next push adds them.
    s3.delete_object(Bucket=BUCKET, Key=key)
    again = plan_publish(
        world["aws"], function=FUNCTION, ref="words@1", source=store, s3_store=S3_STORE
    )
    assert not again.model.write_manifest and again.model.upload_assets == ("tokenizer.json",)
    assert any("upload assets (tokenizer.json)" in str(s) for s in again.model.steps)
    assert run(world["aws"], "publish", "--model", "words@1", store=tmp_path / "store") == 0
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
