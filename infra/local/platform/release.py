"""The local platform as a release platform: the state file, execution environments, counts.

The engine (`infra.release`) decides; this class reads and writes `.slipway/state.json`
(under its lock, each alias guarded by its revision), smoke-invokes a version in an
execution environment of its own (the version itself, never the alias), and reads the new
version's errors from the counts a running `slipway serve` writes (`infra.local.state.counts`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from infra.build import BuildResult
from infra.image.podman import local_engine
from infra.local.exceptions import InvokeError
from infra.local.platform.status import render_status
from infra.local.platform.versions import (
    build_here,
    image_pins,
    image_version,
    pins,
    zip_pins,
    zip_version,
)
from infra.local.runtime.artifacts import runtime_dir
from infra.local.state import counts, progress
from infra.local.state.store import LIMITS, StateStore, Version
from infra.release.exceptions import Conflict, InvalidRequest
from infra.release.model import History, Pins, Snapshot, Target
from infra.release.plan import Watch
from model_store.backends.local import LocalStore
from model_store.manifest import Manifest, parse_ref


@dataclass(frozen=True)
class LocalFunction:
    TEXT: ClassVar[str] = "function {function} (local platform)"
    function: str


@dataclass(frozen=True)
class UnpackBuild:
    TEXT: ClassVar[str] = (
        "unpack the function (sha256 {built.function_sha256}) and its layer (sha256 "
        "{built.layer_sha256}), built for this machine ({built.target.arch}, Python "
        "{built.target.python}) from this checkout"
    )
    built: BuildResult


@dataclass(frozen=True)
class UseImage:
    TEXT: ClassVar[str] = "run podman's image {image} (the function, its layer and runtime)"
    image: str


@dataclass(frozen=True)
class PublishNext:
    TEXT: ClassVar[str] = (
        "publish the next version of {function} pinning model {manifest.ref} "
        "(sha256 {manifest.sha256})"
    )
    function: str
    manifest: Manifest


@dataclass(frozen=True)
class LocalPublish:
    """Unpack the function and layer built for this machine, publish the next version.

    The build happens when the plan is made (cached, and only in build/): what the version
    would pin is known before anything is published, so a release of what live runs
    already moves nothing."""

    function: str
    manifest: Manifest
    store: str  # the local model store's directory
    built: BuildResult | None  # the zips; None with an image
    description: str = ""
    image: str | None = None  # --image-uri: podman's id of the image (loaded when planned)

    @property
    def steps(self) -> tuple[LocalFunction, UnpackBuild | UseImage, PublishNext]:
        code = UnpackBuild(self.built) if self.built else UseImage(str(self.image))
        return (LocalFunction(self.function), code, PublishNext(self.function, self.manifest))

    @property
    def pins(self) -> Pins:
        return zip_pins(self.built) if self.built else image_pins(str(self.image))

    def done(self, version: str) -> str:
        return (
            f"published {self.function}:{version} serving {self.manifest.ref} "
            f"(sha256 {self.manifest.sha256})"
        )


class LocalReleasePlatform:
    name = "local"
    limits = LIMITS

    def __init__(
        self, root: Path, *, store: str, log: Path | None = None, image: str | None = None
    ) -> None:
        self.root = root
        self.states = StateStore(root)
        self.function = self.states.load().function
        self._store = store
        self._log = log or root / "logs" / "functions.log"
        self.sleep = time.sleep
        self._watch: Watch | None = None  # a release's watch (signals()), for its progress file
        self._image = image  # --image-uri: an OCI archive or an image podman has

    def read(self, alias: str) -> Snapshot:
        return self.states.load().snapshot(alias)

    def manifest(self, model: str) -> Manifest:
        """The local store's manifest of `model` (NAME@VERSION)."""
        name, number = parse_ref(model)
        if number is None:
            raise InvalidRequest(f"--model {model}: give NAME@VERSION; a release pins one version")
        return LocalStore(self._store).manifest(name, number)

    def plan_publish(self, model: str, description: str) -> LocalPublish:
        manifest = self.manifest(model)
        if self._image:
            engine = local_engine(self.root)
            archive = Path(self._image)
            image = engine.load(archive) if archive.is_file() else engine.image_id(self._image)
            return LocalPublish(self.function, manifest, self._store, None, description, image)
        return LocalPublish(self.function, manifest, self._store, build_here(), description)

    def publish(self, step: LocalPublish) -> str:
        store, note = step.store, step.description
        if step.built is None:
            version = image_version(
                step.manifest, self.root, store=store, image=step.image, description=note
            )
        else:
            version = zip_version(
                step.manifest, self.root, store=store, built=step.built, description=note
            )
        return self.add_version(version)

    def pins(self, version: str) -> Pins | None:
        found = self.states.load().versions.get(int(version))
        return pins(found) if found else None

    def add_version(self, version: Version) -> str:
        """Publish `version` as the next number, under the state's lock; return its number."""
        with self.states.change() as box:
            box[0], published = box[0].publish(version)
        return str(published.number)

    def invoke(self, version: str, payload: bytes) -> tuple[str | None, bytes]:
        """In an execution environment of its own, as Lambda's Invoke with a qualifier."""
        return asyncio.run(self._invoke(int(version), payload))

    async def _invoke(self, number: int, payload: bytes) -> tuple[str | None, bytes]:
        # Here, not at the top: the environment brings aiohttp, +130 ms (-X importtime) to
        # every `--target local` verb, and only the smoke invoke needs it.
        from infra.local.runtime.environment import Environment

        state = self.states.load()
        with self.function_log() as write:
            version = state.version(number)
            env = Environment(
                state.function,
                version,
                runtime_dir=str(runtime_dir(self.root)),
                log=write,
                engine=local_engine(self.root) if version.image else None,
            )
            try:
                await env.start()
                _, body, _, report = await env.invoke(payload)
                write(report.line())
                return None, body
            except InvokeError as exc:
                return exc.error_type, json.dumps({"errorMessage": exc.message}).encode()
            finally:
                await env.kill()

    @contextmanager
    def function_log(self) -> Iterator[Callable[[str], None]]:
        """A writer of lines to the function log, as `slipway serve` writes it."""
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with open(self._log, "a", buffering=1) as log:

            def write(line: str) -> None:
                log.write(line + "\n")

            yield write

    def route(
        self, alias: str, target: Target, history: History, token: str | None, *, create: bool
    ) -> tuple[Target, str | None]:
        with self.states.change() as box:
            found = box[0].aliases.get(alias)
            if create and found is not None:
                raise Conflict(
                    f"alias {alias} was created by someone else meanwhile (now "
                    f"{found.routing().label()}); run `slipway status`, then run the command again"
                )
            if not create and (found is None or str(found.revision) != token):
                now = f"revision {found.revision}" if found else "deleted"
                raise Conflict(
                    f"alias {alias} changed since Slipway read it (revision {token}, now {now}): "
                    "someone else moved it; run `slipway status`, then run the command again"
                )
            box[0] = box[0].with_alias(alias, target, history)
            landed = box[0].aliases[alias]
        self._progress(landed.name, landed.version, landed.canary, landed.weight)
        return landed.routing(), str(landed.revision)

    def _progress(self, alias: str, version: int, canary: int | None, weight: float) -> None:
        """A release's canary step, for the console (infra.local.console.progress)."""
        w = self._watch  # None: a move by hand (`alias set`), no release is watching
        step = (
            None
            if w is None
            else progress.step_of(alias, version, canary, weight, w.steps, w.wait_s)
        )
        progress.write(self.root, step)

    def signals(self, watch: Watch) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if watch.alarms:
            raise InvalidRequest(
                "--alarm names CloudWatch alarms; the local platform has none (it watches the "
                "new version's errors itself)"
            )
        self._watch = watch
        notes: tuple[str, ...] = ()
        if not counts.read(self.root, "", 0).live:
            notes = (
                f"note: no `slipway serve` is running on {self.root}: the watch sees no traffic",
            )
        return ("errors of the new version (function errors and 5xx answers)",), notes

    def signal(
        self, version: str, alias: str, since: datetime, now: datetime, watch: Watch
    ) -> str | None:
        seen = counts.read(self.root, version, since.timestamp(), now.timestamp())
        if seen.errors > watch.max_errors:
            return (
                f"errors of version {version} since {since:%H:%M:%S} = {seen.errors} of "
                f"{seen.invocations} invocations (limit {watch.max_errors:g}); last: "
                f"{seen.last_error}"
            )
        return None

    def status(self, as_json: bool) -> str:
        state = self.states.load()
        return json.dumps(state.to_dict(), indent=2) if as_json else render_status(state)
