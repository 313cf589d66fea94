"""`--target local-cloudrun`: the release verbs against `slipway serve --platform cloudrun`.

The local platform's state file and rules (versions are numbered revisions, the alias `live`
is the service's traffic split, guarded by its revision token), with what Cloud Run does
differently: a revision is the image plus the model it pins (publishing a new model reuses the
newest revision's image, as `gcloud run deploy --update-env-vars` would), the smoke request
goes over HTTP to an instance of the new revision of its own (its tag URL on Cloud Run), and
the watch reads the revision's 5xx from the counts the gateway writes.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from infra import servers
from infra.cloudrun.smoke import http_invoke
from infra.image.podman import local_engine
from infra.local.cloudrun.containers import PodmanLauncher, revision_name, tag
from infra.local.cloudrun.gateway import read_instances
from infra.local.cloudrun.instances import Instance, InstanceFailed
from infra.local.platform.release import LocalReleasePlatform
from infra.local.platform.status import render_status
from infra.local.platform.versions import image_version
from infra.local.state.store import LIMITS
from infra.release.exceptions import InvalidRequest
from infra.release.plan import Watch
from model_store.manifest import Manifest

SUBDIR = "cloudrun"  # under the local state directory: revisions are images, not zips


def root_of(state_dir: Path) -> Path:
    return state_dir / SUBDIR


@dataclass(frozen=True)
class LocalService:
    TEXT: ClassVar[str] = "service {service} (local Cloud Run)"
    service: str


@dataclass(frozen=True)
class CreateLocalRevision:
    TEXT: ClassVar[str] = (
        "create the next revision of {service} from {image}, with no traffic and its own tag, "
        "pinning model {manifest.ref} (sha256 {manifest.sha256})"
    )
    service: str
    image: str  # in words
    manifest: Manifest


@dataclass(frozen=True)
class CloudRunLocalPublish:
    function: str
    manifest: Manifest
    store: str
    image: str | None  # an OCI archive or podman image id; None: the newest revision's
    description: str = ""
    pins = None  # the image's id is known once published: a release always publishes

    @property
    def steps(self) -> tuple[LocalService, CreateLocalRevision]:
        image = self.image or "the newest revision's image (built for this machine if none)"
        return (
            LocalService(self.function),
            CreateLocalRevision(self.function, image, self.manifest),
        )

    def done(self, version: str) -> str:
        return (
            f"published revision {revision_name(self.function, int(version))} (tag "
            f"/{tag(int(version))}/) serving {self.manifest.ref}"
        )


class LocalCloudRunPlatform(LocalReleasePlatform):
    name = "local-cloudrun"
    limits = replace(LIMITS, weight_step=0.01)  # Cloud Run splits traffic in whole percents

    def __init__(self, root: Path, *, store: str, image: str | None = None) -> None:
        super().__init__(root, store=store)
        self._image = image

    def plan_publish(self, model: str, description: str) -> CloudRunLocalPublish:  # type: ignore[override]
        return CloudRunLocalPublish(
            self.function, self.manifest(model), self._store, self._image, description
        )

    def publish(self, step: CloudRunLocalPublish) -> str:  # type: ignore[override]
        image: str | None = step.image
        archive: Path | None = None
        if image and Path(image).is_file():
            archive, image = Path(image), None
        if image is None and archive is None:
            newest = [v for _, v in sorted(self.states.load().versions.items()) if v.image]
            image = newest[-1].image if newest else None
        if image is not None:
            image = local_engine(self.root).image_id(image)  # refused if podman lacks it
        version = image_version(
            step.manifest,
            self.root,
            store=step.store,
            archive=archive,
            image=image,
            description=step.description,
        )
        return self.add_version(version)

    def invoke(self, version: str, payload: bytes) -> tuple[str | None, bytes]:
        """The request over HTTP to a fresh instance of the revision, as to its tag URL."""
        return asyncio.run(self._smoke(int(version), payload))

    async def _smoke(self, number: int, payload: bytes) -> tuple[str | None, bytes]:
        state = self.states.load()
        version = state.version(number)
        if version.image is None:
            raise InvalidRequest(f"revision {number} is not an image: publish it again")
        with self.function_log() as write:
            engine = local_engine(self.root)
            launcher = PodmanLauncher(lambda: engine, service=state.function, cpus=1.0, log=write)
            instance = Instance(
                "smoke",
                version,
                f"slipway-cr-smoke-{number}-{os.getpid()}",
                servers.free_port(),
            )
            try:
                await launcher.start(instance)
                return await asyncio.to_thread(http_invoke, instance.url, payload)
            except InstanceFailed as exc:
                return "InstanceFailed", json.dumps({"errorMessage": exc.message}).encode()
            finally:
                await launcher.stop(instance, 0)

    def signals(self, watch: Watch) -> tuple[tuple[str, ...], tuple[str, ...]]:
        _, notes = super().signals(watch)
        return ("5xx of the new revision (its answers, failed starts, timeouts)",), tuple(
            n.replace("`slipway serve`", "`slipway serve --platform cloudrun`") for n in notes
        )

    def status(self, as_json: bool) -> str:
        state = self.states.load()
        live = read_instances(self.root)
        if as_json:
            return json.dumps({**state.to_dict(), "instances": live}, indent=2)
        lines = [render_status(state)]
        if live is None:
            lines.append("instances: no `slipway serve --platform cloudrun` is running")
            return "\n".join(lines)
        lines.append(
            f"instances (concurrency {live['concurrency']}, max-instances "
            f"{live['max_instances']}, min-instances {live['min_instances']}):"
        )
        for n, row in sorted(live["revisions"].items(), key=lambda kv: int(kv[0])):
            lines.append(
                f"  {revision_name(state.function, int(n))}  ready {row['ready']}  starting "
                f"{row['starting']}  stopping {row['stopping']}  requests {row['in_flight']} "
                f"(+{row['waiting']} waiting)  started {row['started']}  stopped "
                f"{row['stopped']}  peak {row['peak']}"
            )
        return "\n".join(lines)
