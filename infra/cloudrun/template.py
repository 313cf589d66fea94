"""A revision's template: what `slipway cloudrun manifest` writes, in the Admin API v2's terms.

Re-applying a changed manifest is a release (`slipway release --target cloudrun --manifest
FILE`): the manifest's template (image, environment, CPU and memory, concurrency, timeout,
scaling, service account) goes into a new revision with no traffic, which the engine then
smoke-tests and shifts to. `pins` says what a revision (or a template about to become one)
serves besides its model, so a manifest that changes nothing moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.cloudrun.exceptions import ManifestError
from infra.release.model import Pins, pins_of

if TYPE_CHECKING:
    from google.cloud import run_v2

MODEL_VARS = ("SLIPWAY_MODEL", "SLIPWAY_MODEL_SHA256")  # the model's: compared on their own
MIN_SCALE = "autoscaling.knative.dev/minScale"
MAX_SCALE = "autoscaling.knative.dev/maxScale"


@dataclass(frozen=True)
class Template:
    """The fields of a manifest's revision template that a release applies."""

    path: str
    image: str
    model: str  # SLIPWAY_MODEL: the NAME@VERSION baked into the image
    env: tuple[tuple[str, str], ...]  # every variable, the model's included
    cpu: str
    memory: str
    concurrency: int
    timeout_s: int
    min_instances: int
    max_instances: int
    service_account: str

    @classmethod
    def read(cls, path: str) -> Template:
        import yaml

        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            template = doc["spec"]["template"]
            spec = template["spec"]
            (container,) = spec["containers"]
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            env = tuple((str(e["name"]), str(e.get("value", ""))) for e in container["env"])
            limits = container["resources"]["limits"]
            found = cls(
                path=path,
                image=str(container["image"]),
                model=dict(env).get("SLIPWAY_MODEL", ""),
                env=env,
                cpu=str(limits["cpu"]),
                memory=str(limits["memory"]),
                concurrency=int(spec["containerConcurrency"]),
                timeout_s=int(spec["timeoutSeconds"]),
                min_instances=int(annotations.get(MIN_SCALE, 0)),
                max_instances=int(annotations.get(MAX_SCALE, 100)),
                service_account=str(spec.get("serviceAccountName", "")),
            )
        except OSError as exc:
            raise ManifestError(f"--manifest {path}: {exc.strerror}") from None
        except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            raise ManifestError(
                f"--manifest {path} is not a service manifest `slipway cloudrun manifest` "
                f"writes (one container, its image, env and limits): {type(exc).__name__} {exc}"
            ) from None
        if not found.model:
            raise ManifestError(f"--manifest {path}: its container sets no SLIPWAY_MODEL")
        return found

    def apply(self, template: run_v2.RevisionTemplate) -> None:
        """Set the manifest's fields on the service's template (the rest stays as it is)."""
        from google.cloud import run_v2

        if not template.containers:
            template.containers.append(run_v2.Container())
        container = template.containers[0]
        container.image = self.image
        del container.env[:]
        container.env.extend(run_v2.EnvVar(name=k, value=v) for k, v in self.env)
        limits = container.resources.limits
        for key in list(limits):
            del limits[key]
        limits["cpu"], limits["memory"] = self.cpu, self.memory
        template.max_instance_request_concurrency = self.concurrency
        template.timeout = timedelta(seconds=self.timeout_s)
        template.scaling.min_instance_count = self.min_instances
        template.scaling.max_instance_count = self.max_instances
        template.service_account = self.service_account


def pins(revision: Any) -> Pins:
    """What a `run_v2.Revision` or `RevisionTemplate` pins besides its model."""
    containers = list(revision.containers)
    container = containers[0] if containers else None
    env = sorted(
        (e.name, e.value) for e in (container.env if container else []) if e.name not in MODEL_VARS
    )
    timeout = revision.timeout  # a timedelta (proto-plus), or None when unset
    return pins_of(
        {
            "image": container.image if container else "",
            "environment": env,
            "limits": sorted(dict(container.resources.limits).items()) if container else [],
            "concurrency": revision.max_instance_request_concurrency,
            "timeout": timeout.total_seconds() if timeout else 0,
            "scaling": (revision.scaling.min_instance_count, revision.scaling.max_instance_count),
            "service_account": revision.service_account,
        }
    )
