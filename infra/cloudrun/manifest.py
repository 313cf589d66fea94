"""The Knative Service YAML for `gcloud run services replace` (`slipway cloudrun manifest`).

The model is baked into the image (`slipway build --image --model NAME@VERSION` puts it at
/opt/models and sets SLIPWAY_STORE): Cloud Run has no S3, and a baked model makes the image
digest pin the code and the model together, so a revision is as immutable as a Lambda version.
The manifest still sets SLIPWAY_MODEL (and SLIPWAY_MODEL_SHA256 when given, which the function
verifies at init) so a revision states what it serves. It sets no traffic: releases own it,
and a changed manifest is applied as one (`slipway release --target cloudrun --manifest`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.cloudrun.exceptions import ManifestError
from model_store.exceptions import InvalidReference
from model_store.manifest import parse_ref

MODELS_ROOT = "/opt/models"  # where `slipway build --image --model` puts the model
PORT = 8080  # the image's HTTP mode listens on $PORT, 8080 by default (Cloud Run's contract)
ANNOTATION_PREFIX = "slipway.dev"

HEADER = """\
# Cloud Run service written by `slipway cloudrun manifest`. Create the service with
#   gcloud run services replace {out} --region {region}
# and apply every later change as a guarded release (a new revision with no traffic, smoke-
# tested, then traffic in steps, rolled back on 5xx), never with `services replace` again:
#   slipway release --target cloudrun --manifest {out} --region {region}
# Defaults (change by flag or by editing this file):
#   containerConcurrency 80   requests one instance takes at once (Cloud Run's default, max 1000)
#   timeoutSeconds 60         a request's deadline; /predict answers far sooner
#   cpu 1, memory 1Gi         per instance; CPU throttled outside requests (cpu-throttling)
#   minScale 0, maxScale 10   scale to zero; at most 10 instances (a bound on cost)
#   probes                    startup and liveness GET /health on port 8080
#   image by digest           a tag could move under a revision; a digest cannot
#   model                     baked into the image at /opt/models (SLIPWAY_STORE), pinned by
#                             SLIPWAY_MODEL (and SLIPWAY_MODEL_SHA256 when given)
#   serviceAccountName        a dedicated account with no roles: the function calls no API
#   ingress all               reachable from the internet, but only by authenticated callers:
#                             the invoker role is not granted to allUsers unless
#                             --allow-unauthenticated (then run the printed gcloud command)
#   traffic                   not set: a new service's first revision takes it all; after
#                             that, releases own it (this file never resets it)
"""

DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$")  # Cloud Run: <= 49, DNS label


@dataclass(frozen=True)
class ServiceSpec:
    image: str
    model: str
    service: str = "slipway"
    region: str = "us-central1"
    project: str | None = None
    model_sha256: str | None = None
    concurrency: int = 80
    timeout_seconds: int = 60
    cpu: str = "1"
    memory: str = "1Gi"
    min_scale: int = 0
    max_scale: int = 10
    ingress: str = "all"
    service_account: str | None = None

    def account(self) -> str:
        if self.service_account:
            return self.service_account
        # Account ids are 6-30 characters; PROJECT is left for the user when no --project.
        return f"{self.service[:26]}-run@{self.project or 'PROJECT'}.iam.gserviceaccount.com"


def check(spec: ServiceSpec) -> None:
    if not DIGEST.match(spec.image):
        raise ManifestError(
            f"image {spec.image[:200]!r}: give it by digest (URI@sha256:<64 hex>), not by tag: "
            "a tag can move under a revision; `slipway push-image` prints the digest"
        )
    try:
        name, version = parse_ref(spec.model)
    except InvalidReference as exc:
        raise ManifestError(str(exc)) from exc
    if version is None:
        raise ManifestError(f"model {spec.model!r}: give NAME@VERSION; a revision pins one version")
    if not SERVICE_NAME.match(spec.service):
        raise ManifestError(
            f"service name {spec.service[:80]!r}: lowercase letters, digits and '-', starting "
            "with a letter, at most 49 characters (Cloud Run's rule)"
        )
    if not 1 <= spec.concurrency <= 1000:
        raise ManifestError(f"concurrency {spec.concurrency}: Cloud Run takes 1 to 1000")
    if not 1 <= spec.timeout_seconds <= 3600:
        raise ManifestError(f"timeout {spec.timeout_seconds} s: Cloud Run takes 1 to 3600")
    if not 0 <= spec.min_scale <= spec.max_scale:
        raise ManifestError(f"min instances {spec.min_scale} must be in [0, max {spec.max_scale}]")
    if spec.ingress not in ("all", "internal", "internal-and-cloud-load-balancing"):
        raise ManifestError(
            f"ingress {spec.ingress!r}: all, internal or internal-and-cloud-load-balancing"
        )
    if spec.model_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", spec.model_sha256):
        raise ManifestError("--model-sha256 must be 64 lowercase hex digits")


def service(spec: ServiceSpec) -> dict[str, object]:
    """The Knative Service as a dict (validated first)."""
    check(spec)
    env = [
        {"name": "SLIPWAY_STORE", "value": MODELS_ROOT},
        {"name": "SLIPWAY_MODEL", "value": spec.model},
    ]
    if spec.model_sha256:
        env.append({"name": "SLIPWAY_MODEL_SHA256", "value": spec.model_sha256})
    probe: dict[str, object] = {"httpGet": {"path": "/health", "port": PORT}}
    # Init loads the model: up to 30 s to start before Cloud Run gives up on the instance.
    startup: dict[str, object] = {"periodSeconds": 1, "failureThreshold": 30, "timeoutSeconds": 1}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": spec.service,
            "labels": {"cloud.googleapis.com/location": spec.region},
            "annotations": {"run.googleapis.com/ingress": spec.ingress},
        },
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {
                        "autoscaling.knative.dev/minScale": str(spec.min_scale),
                        "autoscaling.knative.dev/maxScale": str(spec.max_scale),
                        f"{ANNOTATION_PREFIX}/model": spec.model,
                    }
                },
                "spec": {
                    "containerConcurrency": spec.concurrency,
                    "timeoutSeconds": spec.timeout_seconds,
                    "serviceAccountName": spec.account(),
                    "containers": [
                        {
                            "image": spec.image,
                            "ports": [{"name": "http1", "containerPort": PORT}],
                            "env": env,
                            "resources": {"limits": {"cpu": spec.cpu, "memory": spec.memory}},
                            "startupProbe": probe | startup,
                            "livenessProbe": probe | {"periodSeconds": 10},
                        }
                    ],
                },
            },
        },
    }


def render(spec: ServiceSpec, out: str = "service.yaml") -> str:
    import yaml

    body: str = yaml.safe_dump(service(spec), sort_keys=False, default_flow_style=False)
    return HEADER.format(out=out, region=spec.region) + body


def invoker_command(spec: ServiceSpec) -> str:
    """What grants allUsers the invoker role: a manifest cannot (IAM is not part of it)."""
    project = f" --project {spec.project}" if spec.project else ""
    return (
        f"gcloud run services add-iam-policy-binding {spec.service} --region {spec.region}"
        f"{project} --member=allUsers --role=roles/run.invoker"
    )
