"""Google Cloud Run as a release platform: revisions are versions, the traffic split is the alias.

Version ids are revision names (`SERVICE-00003`). The alias (`live`) is the service's traffic:
its primary revision carries the alias as a tag, a canary takes an integer percent beside it.
Each published revision keeps a tag of its own (`rev-00003`), whose URL the smoke request
uses. History lives in the service's annotation `slipway.dev/history-ALIAS`, written by the
same etag-guarded UpdateService that moves traffic, so rollback works from any machine.
A release takes its image from --image-uri, or its whole template (image, environment,
resources, scaling) from --manifest (`slipway cloudrun manifest`): re-applying a changed
manifest is a release like any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from infra.cloudrun.client import CloudRun
from infra.cloudrun.exceptions import CloudRunError
from infra.cloudrun.manifest import DIGEST
from infra.cloudrun.settings import Settings
from infra.cloudrun.smoke import http_invoke
from infra.cloudrun.template import Template, pins
from infra.cloudrun.traffic import (
    DESCRIPTION,
    entry,
    pinned,
    revision_number,
    short,
    target_of,
    version_info,
)
from infra.release.exceptions import InvalidRequest, SmokeTestFailed
from infra.release.model import History, Limits, Pins, Snapshot, Target
from infra.release.plan import Watch
from model_store.backends import Store
from model_store.manifest import parse_ref

if TYPE_CHECKING:
    from google.cloud import run_v2

    from model_store.manifest import Manifest

LIMITS = Limits(
    numbered=False,
    latest="LATEST",
    weight_step=0.01,
    token="etag",
    history_chars=1024,
    alias_chars=40,
)
HISTORY = "slipway.dev/history-"  # + alias: the annotation holding the alias's history


@dataclass(frozen=True)
class CreateRevision:
    TEXT: ClassVar[str] = (
        "create revision {revision} of {service} with no traffic and tag {tag}: image {image}, "
        "model {manifest.ref} (sha256 {manifest.sha256})"
    )
    revision: str
    service: str
    tag: str
    image: str
    manifest: Manifest


@dataclass(frozen=True)
class ApplyManifest:
    TEXT: ClassVar[str] = (
        "with {template.path}'s template: {template.cpu} CPU, {template.memory}, concurrency "
        "{template.concurrency}, timeout {template.timeout_s} s, {template.min_instances} to "
        "{template.max_instances} instances"
    )
    template: Template


@dataclass(frozen=True)
class CloudRunPublish:
    manifest: Manifest
    service: str
    revision: str
    tag: str
    image: str
    description: str
    template: Template | None = None  # --manifest: the whole template, not only the image
    pins: Pins | None = None  # what the revision would pin besides its model

    @property
    def steps(self) -> tuple[CreateRevision] | tuple[CreateRevision, ApplyManifest]:
        create = CreateRevision(self.revision, self.service, self.tag, self.image, self.manifest)
        return (create,) if self.template is None else (create, ApplyManifest(self.template))

    def done(self, version: str) -> str:
        return f"published {self.service} revision {version} serving {self.manifest.ref}"


class CloudRunReleasePlatform:
    name = "cloudrun"
    limits = LIMITS

    def __init__(
        self,
        run: CloudRun,
        settings: Settings,
        *,
        source: Callable[[], Store],
        image: str | None = None,
        manifest: str | None = None,
        id_token: Callable[[str], str | None] = lambda audience: None,
    ) -> None:
        self.run = run
        self.settings = settings
        self.function = settings.service
        self.sleep = run.sleep
        self._source = source
        self._image = image
        self._manifest = manifest
        self._id_token = id_token
        # Publishing writes the same service as the traffic does, so it changes the etag the
        # release planned with: our own writes map the etag they saw to the one they left.
        self._own: dict[str, str] = {}

    # -- reading ----------------------------------------------------------------------------
    def _service(self) -> run_v2.Service:
        return self.run.service(self.settings.name)

    def read(self, alias: str) -> Snapshot:
        svc = self._service()
        others = sorted(
            k[len(HISTORY) :]
            for k in svc.annotations
            if k.startswith(HISTORY) and k != HISTORY + alias
        )
        if others:
            # One service has one traffic split: a second alias would move the same traffic.
            raise InvalidRequest(
                f"service {self.function} routes its traffic as alias {others[0]}; on Cloud Run "
                f"a service has one traffic split, so use alias {others[0]} (or another service)"
            )
        revisions = sorted(
            self.run.revisions(self.settings.name),
            key=lambda r: revision_number(short(r.name), self.function),
        )
        versions = tuple(version_info(r) for r in revisions)  # oldest first
        return Snapshot(
            function=self.function,
            alias=alias,
            versions=versions,
            target=target_of(svc, alias),
            history=History.decode(svc.annotations.get(HISTORY + alias)),
            token=svc.etag or None,
        )

    # -- publishing -------------------------------------------------------------------------
    def plan_publish(self, model: str, description: str) -> CloudRunPublish:
        template = Template.read(self._manifest) if self._manifest else None
        image = self._image
        if template is not None:
            if image and image != template.image:
                raise InvalidRequest(
                    f"--image-uri {image[:200]} and --manifest {template.path} (image "
                    f"{template.image[:200]}) disagree: give one"
                )
            if model != template.model:
                raise InvalidRequest(
                    f"--manifest {template.path} bakes model {template.model} but the release "
                    f"is of {model}: pass --model {template.model} to release it (a manifest "
                    "naming another model is a release of that model)"
                )
            image = template.image
        if not image:
            raise InvalidRequest(
                "--image-uri (or --manifest) is required with --target cloudrun: the image (by "
                f"digest) that carries {model} (`slipway build --image --model {model}`, then "
                "push it)"
            )
        if not DIGEST.match(image):
            raise InvalidRequest(
                f"--image-uri {image[:200]!r}: give it by digest (URI@sha256:…), not a tag"
            )
        name, number = parse_ref(model)
        manifest = self._source().manifest(name, number)
        svc = self._service()
        existing = [short(r.name) for r in self.run.revisions(self.settings.name)]
        n = 1 + max((revision_number(r, self.function) for r in existing), default=0)
        return CloudRunPublish(
            manifest,
            self.function,
            f"{self.function}-{n:05d}",
            f"rev-{n:05d}",
            image,
            description,
            template,
            pins(self._next_template(svc, image, manifest, template)),
        )

    @staticmethod
    def _next_template(
        svc: run_v2.Service, image: str, manifest: Manifest, template: Template | None
    ) -> run_v2.RevisionTemplate:
        """The service's template as `publish` leaves it (a copy; the service is not written)."""
        from google.cloud import run_v2

        after: run_v2.RevisionTemplate = run_v2.RevisionTemplate.deserialize(
            run_v2.RevisionTemplate.serialize(svc.template)
        )
        if template is not None:
            template.apply(after)
        if not after.containers:
            after.containers.append(run_v2.Container())
        container = after.containers[0]
        container.image = image
        env = {e.name: e.value for e in container.env}
        env.update({"SLIPWAY_MODEL": manifest.ref, "SLIPWAY_MODEL_SHA256": manifest.sha256})
        del container.env[:]
        container.env.extend(run_v2.EnvVar(name=k, value=v) for k, v in env.items())
        return after

    def pins(self, version: str) -> Pins | None:
        found = [r for r in self.run.revisions(self.settings.name) if short(r.name) == version]
        return pins(found[0]) if found else None

    def publish(self, step: CloudRunPublish) -> str:
        svc = self._service()
        template = self._next_template(svc, step.image, step.manifest, step.template)
        template.revision = step.revision
        template.annotations[DESCRIPTION] = step.description[:256]
        svc.template = template
        # Traffic stays where it is: LATEST would follow the new revision, so pin it first.
        traffic = [pinned(t, svc) for t in svc.traffic]
        traffic.append(entry(step.revision, 0, step.tag))
        del svc.traffic[:]
        svc.traffic.extend(traffic)
        seen = svc.etag
        done = self.run.update(svc)
        self._own[seen] = done.etag
        return short(done.latest_created_revision) or step.revision

    # -- smoke ------------------------------------------------------------------------------
    def invoke(self, version: str, payload: bytes) -> tuple[str | None, bytes]:
        """Send the event's request to the revision's tag URL; reply as Lambda's payload."""
        svc = self._service()
        urls = [s.uri for s in svc.traffic_statuses if s.revision == version and s.uri]
        if not urls:
            raise SmokeTestFailed(
                f"revision {version} of {self.function} has no tag URL to smoke-test; tag it "
                f"(`gcloud run services update-traffic {self.function} --set-tags …`)"
            )
        return http_invoke(urls[0], payload, token=self._id_token(urls[0]))

    # -- routing ----------------------------------------------------------------------------
    def route(
        self, alias: str, target: Target, history: History, token: str | None, *, create: bool
    ) -> tuple[Target, str | None]:
        svc = self._service()
        if token is not None:
            svc.etag = self._own.get(
                token, token
            )  # the server refuses the write if the service moved since then
        primary = round((1 - target.weight) * 100) if target.canary else 100
        traffic = [entry(target.version, primary, alias)]
        if target.canary:
            traffic.append(entry(target.canary, 100 - primary, ""))
        # Other tags (each revision's own) stay, without traffic.
        traffic += [
            entry(t.revision or short(svc.latest_ready_revision), 0, t.tag)
            for t in svc.traffic
            if t.tag and t.tag != alias
        ]
        del svc.traffic[:]
        svc.traffic.extend(traffic)
        svc.annotations[HISTORY + alias] = history.encode(self.limits.history_chars)
        done = self.run.update(svc)
        landed = target_of(done, alias)
        if landed is None:
            raise CloudRunError(f"service {self.function} reports no traffic after the update")
        return landed, done.etag or None

    # -- signals ----------------------------------------------------------------------------
    def signals(self, watch: Watch) -> tuple[tuple[str, ...], tuple[str, ...]]:
        notes = tuple(
            f"note: --alarm {a} is CloudWatch's; Cloud Run watches 5xx only" for a in watch.alarms
        )
        return ("5xx of the new revision (run.googleapis.com/request_count)",), notes

    def signal(
        self, version: str, alias: str, since: datetime, now: datetime, watch: Watch
    ) -> str | None:
        errors = self.run.errors_5xx(self.settings.project, self.function, version, since, now)
        if errors > watch.max_errors:
            return f"{errors:g} requests answered 5xx (more than {watch.max_errors:g} allowed)"
        return None

    def status(self, as_json: bool) -> str:
        svc = self._service()
        state: dict[str, Any] = {
            "service": self.settings.name,
            "uri": svc.uri,
            "etag": svc.etag,
            "revisions": [version_info(r).__dict__ for r in self.run.revisions(self.settings.name)],
            "traffic": [
                {"revision": s.revision, "percent": s.percent, "tag": s.tag, "uri": s.uri}
                for s in svc.traffic_statuses
            ],
            "history": {
                k[len(HISTORY) :]: v for k, v in svc.annotations.items() if k.startswith(HISTORY)
            },
        }
        if as_json:
            return json.dumps(state, indent=2)
        lines = [f"service {self.settings.name}: {svc.uri}", "revisions:"]
        lines += [f"  {v['id']}  {v['model']}  {v['created']}" for v in state["revisions"]]
        lines.append("traffic:")
        lines += [
            f"  {t['revision']}  {t['percent']}%"
            + (f"  tag {t['tag']} {t['uri']}" if t["tag"] else "")
            for t in state["traffic"]
        ]
        lines += [f"history of {a}: {h}" for a, h in state["history"].items()]
        return "\n".join(lines)
