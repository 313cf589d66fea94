"""A loopback fake of the Cloud Run Admin API v2 (REST), owned by the tests.

No emulator exists (googleapis/google-cloud-python#12138 was closed), so this serves the
documented JSON surface the real `google-cloud-run` client speaks with `transport="rest"`:
services.get / services.patch (a long-running Operation the client polls through
operations.get), revisions.list / revisions.get, and the documented errors as google.rpc
Status bodies: 409 ABORTED when the sent etag is stale, 404 NOT_FOUND, 400 INVALID_ARGUMENT
for traffic that does not add up to 100, and 429 RESOURCE_EXHAUSTED when a test asks for it.
A template change creates a revision (named by `template.revision`), as Cloud Run does.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
ENUMS = {1: LATEST, 2: REVISION}  # the client may send enums as numbers


class FakeCloudRun:
    def __init__(self, project: str, region: str, service: str) -> None:
        self.parent = f"projects/{project}/locations/{region}"
        self.name = f"{self.parent}/services/{service}"
        self.service_id = service
        self.lock = threading.Lock()
        self.etags = itertools.count(1)
        self.ops = itertools.count(1)
        self.operations: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, dict[str, Any]] = {}
        self.service: dict[str, Any] | None = None
        self.throttle = 0  # the next N requests get 429 RESOURCE_EXHAUSTED
        self.requests: list[tuple[str, str]] = []
        self.tag_url: Callable[[str], str] = lambda tag: f"https://{tag}---{service}-x.a.run.app"

    # -- state ------------------------------------------------------------------------------
    def deploy(self, image: str, model: str) -> None:
        """What `gcloud run services replace` of our manifest leaves: one revision, LATEST 100%."""
        template = {
            "revision": f"{self.service_id}-00001",
            "containers": [
                {
                    "image": image,
                    "env": [{"name": "SLIPWAY_MODEL", "value": model}],
                    "ports": [{"name": "http1", "containerPort": 8080}],
                }
            ],
            "maxInstanceRequestConcurrency": 80,
        }
        self.service = {
            "name": self.name,
            "uid": "u-1",
            "generation": "0",
            "annotations": {},
            "template": template,
            "traffic": [{"type": LATEST, "percent": 100}],
        }
        self._apply(self.service, None)

    def touch(self) -> None:
        """Someone else changes the service (a new etag), as a concurrent deploy would."""
        with self.lock:
            assert self.service is not None
            self.service.setdefault("annotations", {})["someone"] = "else"
            self.service["etag"] = f'"e{next(self.etags)}"'

    def _apply(self, body: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        svc = copy.deepcopy(body)
        svc["name"] = self.name  # the client sends it in the URL, not in the body
        if old is None or svc.get("template") != old.get("template"):
            name = (
                svc["template"].get("revision")
                or f"{self.service_id}-{len(self.revisions) + 1:05d}"
            )
            if name in self.revisions:
                raise Status(409, "ALREADY_EXISTS", f"Revision named '{name}' already exists.")
            self.revisions[name] = {
                "name": f"{self.name}/revisions/{name}",
                "uid": f"r-{len(self.revisions) + 1}",
                "generation": "1",
                "service": self.name,
                "createTime": f"2026-12-01T00:{len(self.revisions):02d}:00Z",
                "annotations": svc["template"].get("annotations", {}),
                "containers": svc["template"]["containers"],
                # The template's settings, as Cloud Run copies them into the revision.
                **{
                    k: svc["template"][k]
                    for k in ("maxInstanceRequestConcurrency", "timeout", "scaling")
                    if k in svc["template"]
                },
                "serviceAccount": svc["template"].get("serviceAccount", ""),
                "conditions": [{"type": "Ready", "state": "CONDITION_SUCCEEDED"}],
                "etag": f'"r{len(self.revisions) + 1}"',
            }
            svc["latestCreatedRevision"] = svc["latestReadyRevision"] = self.revisions[name]["name"]
        else:
            svc["latestCreatedRevision"] = old["latestCreatedRevision"]
            svc["latestReadyRevision"] = old["latestReadyRevision"]
        latest = svc["latestReadyRevision"].rsplit("/", 1)[-1]
        traffic = svc.get("traffic") or [{"type": LATEST, "percent": 100}]
        statuses, total, tags = [], 0, set()
        for t in traffic:
            kind = ENUMS.get(t.get("type"), t.get("type"))  # type: ignore[arg-type]
            t["type"] = kind
            revision = latest if kind == LATEST else t.get("revision", "")
            if revision not in self.revisions:
                raise Status(400, "INVALID_ARGUMENT", f"Revision '{revision}' does not exist.")
            if t.get("tag"):
                if t["tag"] in tags:
                    raise Status(400, "INVALID_ARGUMENT", f"Tag '{t['tag']}' is used twice.")
                tags.add(t["tag"])
            total += int(t.get("percent", 0))
            status = {"type": kind, "revision": revision, "percent": t.get("percent", 0)}
            if t.get("tag"):
                status |= {"tag": t["tag"], "uri": self.tag_url(t["tag"])}
            statuses.append(status)
        if total != 100:
            raise Status(400, "INVALID_ARGUMENT", f"Traffic percents sum to {total}, not 100.")
        svc["traffic"] = traffic
        svc["trafficStatuses"] = statuses
        svc["generation"] = str(int(svc.get("generation", "0")) + 1)
        svc["observedGeneration"] = svc["generation"]
        svc["uri"] = f"https://{self.service_id}-x.a.run.app"
        svc["reconciling"] = False
        svc["terminalCondition"] = {"type": "Ready", "state": "CONDITION_SUCCEEDED"}
        svc["etag"] = f'"e{next(self.etags)}"'
        self.service = svc
        return svc

    # -- HTTP -------------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.requests.append((method, path))
            if self.throttle:
                self.throttle -= 1
                raise Status(
                    429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests'."
                )
            if path == f"/v2/{self.name}" and method == "GET":
                return copy.deepcopy(self._existing())
            if path == f"/v2/{self.name}" and method == "PATCH":
                old = self._existing()
                sent = body.get("etag")
                if sent and sent != old["etag"]:
                    raise Status(
                        409,
                        "ABORTED",
                        f"Etag mismatch: the resource was modified (sent {sent}, now {old['etag']}).",
                    )
                svc = self._apply(body, old)
                op = f"{self.parent}/operations/op-{next(self.ops)}"
                meta = {"@type": "type.googleapis.com/google.cloud.run.v2.Service", **svc}
                self.operations[op] = {"name": op, "done": True, "metadata": meta, "response": meta}
                return {"name": op, "metadata": meta, "done": False}  # the client polls it
            if path.startswith(f"/v2/{self.parent}/operations/") and method == "GET":
                found = self.operations.get(path[4:])
                if found is None:
                    raise Status(404, "NOT_FOUND", f"Operation {path[4:]} not found.")
                return found
            if path == f"/v2/{self.name}/revisions" and method == "GET":
                self._existing()
                return {"revisions": [copy.deepcopy(r) for r in self.revisions.values()]}
            m = re.fullmatch(rf"/v2/{re.escape(self.name)}/revisions/([^/]+)", path)
            if m and method == "GET":
                if m.group(1) not in self.revisions:
                    raise Status(404, "NOT_FOUND", f"Revision {m.group(1)} not found.")
                return copy.deepcopy(self.revisions[m.group(1)])
            raise Status(404, "NOT_FOUND", f"{method} {path} is not a resource of this fake.")

    def _existing(self) -> dict[str, Any]:
        if self.service is None:
            raise Status(404, "NOT_FOUND", f"Resource '{self.name}' was not found")
        return self.service


class Status(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        self.code, self.status, self.message = code, status, message


@contextmanager
def serve(fake: FakeCloudRun) -> Iterator[str]:
    """The fake on 127.0.0.1:PORT in a thread; yields its endpoint, always stops it."""

    class Handler(BaseHTTPRequestHandler):
        def _do(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
                out, code = fake.handle(self.command, self.path.split("?")[0], body), 200
            except Status as exc:
                out = {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
                code = exc.code
            data = json.dumps(out).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json; charset=UTF-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_POST = _do

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
