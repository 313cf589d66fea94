from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.cli import main
from infra.cloudrun.exceptions import ManifestError
from infra.cloudrun.manifest import ServiceSpec, render

IMAGE = "europe-docker.pkg.dev/p/r/slipway@sha256:" + "ab" * 32


def test_manifest_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "service.yaml"
    code = main(
        [
            "cloudrun",
            "manifest",
            "--image",
            IMAGE,
            "--model",
            "digits@3",
            "--service",
            "pred",
            "--region",
            "europe-west1",
            "--project",
            "acme",
            "--model-sha256",
            "c" * 64,
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = out.read_text()
    assert text.startswith("# Cloud Run service written by `slipway cloudrun manifest`")
    assert "containerConcurrency 80" in text  # the defaults are documented in the header
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == "serving.knative.dev/v1" and doc["kind"] == "Service"
    assert doc["metadata"]["name"] == "pred"
    assert doc["metadata"]["labels"]["cloud.googleapis.com/location"] == "europe-west1"
    assert doc["metadata"]["annotations"]["run.googleapis.com/ingress"] == "all"
    template = doc["spec"]["template"]
    notes = template["metadata"]["annotations"]
    assert notes["autoscaling.knative.dev/minScale"] == "0"
    assert notes["autoscaling.knative.dev/maxScale"] == "10"
    spec = template["spec"]
    assert spec["containerConcurrency"] == 80 and spec["timeoutSeconds"] == 60
    assert spec["serviceAccountName"] == "pred-run@acme.iam.gserviceaccount.com"
    (container,) = spec["containers"]
    assert container["image"] == IMAGE
    assert container["ports"] == [{"name": "http1", "containerPort": 8080}]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": 8080}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "SLIPWAY_STORE": "/opt/models",
        "SLIPWAY_MODEL": "digits@3",
        "SLIPWAY_MODEL_SHA256": "c" * 64,
    }
    # No traffic: releases own it, so re-applying this file never resets what they set.
    assert "traffic" not in doc["spec"]
    printed = capsys.readouterr().out
    assert "allUsers" not in printed  # authentication stays on unless asked


def test_allow_unauthenticated_prints_the_iam_binding(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "cloudrun",
                "manifest",
                "--image",
                IMAGE,
                "--model",
                "digits@1",
                "--allow-unauthenticated",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    yaml.safe_load(captured.out)  # stdout stays valid YAML
    assert (
        "gcloud run services add-iam-policy-binding slipway --region us-central1 "
        "--member=allUsers --role=roles/run.invoker"
    ) in captured.err


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"image": "europe-docker.pkg.dev/p/r/slipway:latest"}, "by digest"),
        ({"model": "digits"}, "NAME@VERSION"),
        ({"model": "bad name@1"}, "model reference"),
        ({"service": "Bad_Name"}, "service name"),
        ({"concurrency": 1001}, "1 to 1000"),
        ({"min_scale": 5, "max_scale": 2}, "min instances"),
        ({"ingress": "public"}, "ingress"),
    ],
)
def test_refuses_what_cloud_run_would(change: dict[str, object], words: str) -> None:
    spec = ServiceSpec(**{"image": IMAGE, "model": "digits@1", **change})  # type: ignore[arg-type]
    with pytest.raises(ManifestError, match=words):
        render(spec)


def test_cli_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cloudrun", "manifest", "--image", "x:latest", "--model", "digits@1"]) == 1
    assert "by digest" in capsys.readouterr().err
