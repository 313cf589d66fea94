"""The release verbs with --target cloudrun, through the real google-cloud-run clients (REST
transport) against the loopback fake of the Admin API (tests/infra/cloudrun/fake.py).

The smoke request goes over HTTP to a loopback server standing in for the revisions' tag
URLs, which runs the real prediction function with each revision's environment. Cloud
Monitoring's client has no REST transport (gRPC only), so its seam is a small object with
`list_time_series(request=)` taking the real request type and returning real TimeSeries.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra import cli
from infra.cloudrun.client import CloudRun
from infra.release.exceptions import Conflict, NotFound
from tests.infra.aws.conftest import two_models  # noqa: F401 - fixture
from tests.infra.cloudrun.fake import FakeCloudRun, serve

pytest.importorskip("google.cloud.run_v2")

PROJECT, REGION, SERVICE = "acme", "europe-west1", "slipway"
IMAGE = "europe-docker.pkg.dev/acme/r/slipway@sha256:" + "b" * 64


@dataclass
class Metrics:
    """Cloud Monitoring at the wrapper's seam: 5xx counts per revision, requests recorded."""

    errors: dict[str, int] = field(default_factory=dict)
    requests: list[Any] = field(default_factory=list)

    def list_time_series(self, request: Any) -> list[Any]:
        from google.cloud import monitoring_v3

        self.requests.append(request)
        revision = re.search(r'resource.labels.revision_name = "([^"]+)"', request.filter)
        count = self.errors.get(revision.group(1) if revision else "", 0)
        if not count:
            return []
        point = monitoring_v3.Point(value=monitoring_v3.TypedValue(int64_value=count))
        return [monitoring_v3.TimeSeries(points=[point])]


@dataclass
class World:
    fake: FakeCloudRun
    metrics: Metrics
    store: Path
    failing_tags: set[str]
    sleeps: list[float]

    def cli(self, *argv: str) -> int:
        return cli.main([*argv, "--target", "cloudrun", "--function", SERVICE])

    def traffic(self) -> list[tuple[str, int, str]]:
        assert self.fake.service is not None
        return [
            (s["revision"], int(s["percent"]), s.get("tag", ""))
            for s in self.fake.service["trafficStatuses"]
        ]


@pytest.fixture
def world(two_models: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:  # noqa: F811
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import run_v2

    from functions.predict.runtime import build
    from infra.cloudrun import commands
    from infra.events import http_api_v2

    fake = FakeCloudRun(PROJECT, REGION, SERVICE)
    metrics = Metrics()
    failing: set[str] = set()
    sleeps: list[float] = []
    functions: dict[str, Any] = {}

    class Revision(BaseHTTPRequestHandler):
        """The tag URLs: /TAG/PATH runs the real function with the tagged revision's env."""

        def do_POST(self) -> None:
            tag, _, rest = self.path.lstrip("/").partition("/")
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            assert fake.service is not None
            (revision,) = [
                s["revision"] for s in fake.service["trafficStatuses"] if s.get("tag") == tag
            ]
            if tag in failing:
                status, text = 503, b'{"error": "instance failed to start"}'
            else:
                env = {
                    e["name"]: e["value"] for e in fake.revisions[revision]["containers"][0]["env"]
                }
                if revision not in functions:
                    # The test store stands for the image's baked one (/opt/models).
                    functions[revision] = build(
                        {**env, "SLIPWAY_STORE": str(two_models), "SLIPWAY_METRICS": "off"}
                    )
                event = http_api_v2(
                    "POST", "/" + rest, body=body, headers={"content-type": "application/json"}
                )
                reply = functions[revision](event, None)
                status, text = int(reply["statusCode"]), str(reply["body"]).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args: Any) -> None:
            pass

    tags = ThreadingHTTPServer(("127.0.0.1", 0), Revision)
    thread = threading.Thread(target=tags.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.tag_url = lambda tag: f"http://127.0.0.1:{tags.server_address[1]}/{tag}"
    fake.deploy(IMAGE.replace("b" * 64, "a" * 64), "digits@1")
    try:
        with serve(fake) as endpoint:
            options = {"api_endpoint": endpoint}
            anonymous = AnonymousCredentials()
            run = CloudRun(
                run_v2.ServicesClient(
                    transport="rest", client_options=options, credentials=anonymous
                ),
                run_v2.RevisionsClient(
                    transport="rest", client_options=options, credentials=anonymous
                ),
                metrics,
                sleep=sleeps.append,
                poll_initial_s=0.01,
            )
            monkeypatch.setattr(commands, "connect", lambda settings: run)
            monkeypatch.setenv("SLIPWAY_CLOUDRUN_PROJECT", PROJECT)
            monkeypatch.setenv("SLIPWAY_CLOUDRUN_REGION", REGION)
            monkeypatch.setenv("SLIPWAY_STORE", str(two_models))
            yield World(fake, metrics, two_models, failing, sleeps)
    finally:
        tags.shutdown()
        tags.server_close()
        thread.join(5)


def test_publish_split_rollback_status(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.cli("publish", "--model", "digits@2", "--image-uri", IMAGE) == 0
    assert "published slipway revision slipway-00002 serving digits@2" in capsys.readouterr().out
    revision = world.fake.revisions["slipway-00002"]
    (container,) = revision["containers"]
    assert container["image"] == IMAGE
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SLIPWAY_MODEL"] == "digits@2" and len(env["SLIPWAY_MODEL_SHA256"]) == 64
    # No traffic moved: the LATEST entry was pinned to the old revision before the new one came.
    assert world.traffic() == [("slipway-00001", 100, ""), ("slipway-00002", 0, "rev-00002")]
    assert any("/operations/" in path for _, path in world.fake.requests)  # the LRO was polled

    argv = ("alias", "set", "live", "slipway-00001", "--canary", "slipway-00002", "--weight", "0.1")
    assert world.cli(*argv) == 0
    assert world.traffic() == [
        ("slipway-00001", 90, "live"),
        ("slipway-00002", 10, ""),
        ("slipway-00002", 0, "rev-00002"),
    ]
    assert (
        world.cli(
            "alias",
            "set",
            "live",
            "slipway-00002",
            "--canary",
            "slipway-00001",
            "--weight",
            "0.015",
        )
        == 1
    )  # Cloud Run takes whole percents
    assert "steps of 0.01" in capsys.readouterr().err

    assert world.cli("rollback", "live") == 0
    assert world.traffic()[0] == ("slipway-00001", 100, "live")
    capsys.readouterr()
    assert world.cli("status", "--json") == 0
    state = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in state["revisions"]] == ["slipway-00001", "slipway-00002"]
    assert [r["model"] for r in state["revisions"]] == ["digits@1", "digits@2"]
    assert state["history"]["live"].startswith("slipway:1 since=")
    # One service, one traffic split: another alias would move the same traffic.
    assert world.cli("alias", "set", "beta", "slipway-00002") == 1
    assert "use alias live" in capsys.readouterr().err
    assert world.traffic()[0] == ("slipway-00001", 100, "live")


def test_release_smoke_steps_promote(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("release", "--model", "digits@2", "--image-uri", IMAGE, "--wait", "0", "--poll", "1")
    assert world.cli(*argv) == 0
    out = capsys.readouterr().out
    assert "version slipway-00002 answered the smoke invoke with digits@2" in out
    assert "alias live -> slipway-00001 + slipway-00002 at 0.1" in out
    assert world.traffic()[0] == ("slipway-00002", 100, "live")
    (request, *_) = world.metrics.requests
    assert request.name == f"projects/{PROJECT}"
    assert 'metric.type = "run.googleapis.com/request_count"' in request.filter
    assert 'metric.labels.response_code_class = "5xx"' in request.filter
    assert 'resource.labels.revision_name = "slipway-00002"' in request.filter
    assert world.cli("rollback", "live") == 0  # the whole release is one history entry
    assert world.traffic()[0] == ("slipway-00001", 100, "live")


def test_dry_run_prints_the_plan_and_changes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(world.fake.revisions), world.traffic()
    argv = ("release", "--model", "digits@2", "--image-uri", IMAGE, "--dry-run")
    assert world.cli(*argv) == 0
    out = capsys.readouterr().out
    assert "plan (dry run):" in out and "create revision slipway-00002" in out
    assert (len(world.fake.revisions), world.traffic()) == before
    assert world.cli("publish", "--model", "digits@2", "--image-uri", "repo/slipway:latest") == 1
    assert "by digest" in capsys.readouterr().err


def test_failed_smoke_moves_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.failing_tags.add("rev-00002")
    argv = ("release", "--model", "digits@2", "--image-uri", IMAGE, "--wait", "0", "--poll", "1")
    assert world.cli(*argv) == 1
    err = capsys.readouterr().err
    assert "answered the smoke invoke with 503" in err and "No traffic moved" in err
    assert world.traffic() == [("slipway-00001", 100, ""), ("slipway-00002", 0, "rev-00002")]


def test_5xx_spike_during_a_step_rolls_back(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.metrics.errors["slipway-00002"] = 7
    argv = ("release", "--model", "digits@2", "--image-uri", IMAGE, "--wait", "0", "--poll", "1")
    assert world.cli(*argv) == 3  # rolled back
    captured = capsys.readouterr()
    assert "alias live -> slipway-00001 + slipway-00002 at 0.1" in captured.out
    assert "7 requests answered 5xx" in captured.err and "Rolled back" in captured.err
    assert world.traffic()[0] == ("slipway-00001", 100, "live")


def test_a_stale_etag_is_a_conflict(world: World) -> None:
    from infra.cloudrun import commands
    from infra.release.model import Target

    assert world.cli("publish", "--model", "digits@2", "--image-uri", IMAGE) == 0
    p = commands.platform(cli.parser().parse_args(["status", "--target", "cloudrun"]))
    snap = p.read("live")
    world.fake.touch()  # someone deploys between our read and our write
    with pytest.raises(Conflict, match="etag mismatch"):
        p.route("live", Target("slipway-00002"), snap.history, snap.token, create=False)
    assert world.traffic()[0] == ("slipway-00001", 100, "")


def test_quota_is_retried_and_a_missing_service_is_named(world: World) -> None:
    from infra.cloudrun import commands

    p = commands.platform(cli.parser().parse_args(["status", "--target", "cloudrun"]))
    world.fake.throttle = 2
    assert p.read("live").target is not None
    assert world.sleeps == [1.0, 2.0]
    world.fake.service = None
    with pytest.raises(NotFound, match="not found"):
        p.read("live")
