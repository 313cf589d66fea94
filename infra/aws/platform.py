"""AWS Lambda as a release platform: versions, aliases with RevisionId, CloudWatch signals.

The engine (`infra.release`) decides; this class only reads and writes Lambda through the
typed wrapper `infra.aws.client.Aws`. History lives in the alias description, written by the
same UpdateAlias that moves the alias, so rollback works from any machine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from infra.aws.canary import failing_signal, red_alarms
from infra.aws.client import Aws
from infra.aws.history import LIMITS, target_from_alias
from infra.aws.pins import pins
from infra.aws.publish import CodeChange, PublishPlan, execute_publish, plan_publish
from infra.aws.status import gather, model_of, render
from infra.release.model import History, Pins, Snapshot, Target, VersionInfo
from infra.release.plan import Watch
from model_store.backends import Store


class AwsReleasePlatform:
    name = "aws"
    limits = LIMITS

    def __init__(
        self,
        aws: Aws,
        function: str,
        *,
        source: Callable[[], Store],
        s3_store: str | None = None,
        code: CodeChange | None = None,
    ) -> None:
        self.aws = aws
        self.function = function
        self.sleep = aws.sleep
        self._source = source
        self._s3_store = s3_store
        self._code = code

    def read(self, alias: str) -> Snapshot:
        versions = tuple(
            VersionInfo(
                str(v["Version"]),
                *model_of(v),
                created=str(v.get("LastModified", "")),
                description=str(v.get("Description", "")),
            )
            for v in self.aws.versions(self.function)
        )
        found = self.aws.alias(self.function, alias)
        return Snapshot(
            function=self.function,
            alias=alias,
            versions=versions,
            target=target_from_alias(found) if found else None,
            history=History.decode(found.get("Description") if found else None),
            token=found.get("RevisionId") if found else None,
        )

    def plan_publish(self, model: str, description: str) -> PublishPlan:
        return plan_publish(
            self.aws,
            function=self.function,
            ref=model,
            source=self._source(),
            s3_store=self._s3_store,
            code=self._code,
            note=description,
        )

    def publish(self, step: PublishPlan) -> str:
        return str(execute_publish(self.aws, step, self._source())["Version"])

    def pins(self, version: str) -> Pins | None:
        return pins(self.aws.function(self.function, version))

    def invoke(self, version: str, payload: bytes) -> tuple[str | None, bytes]:
        return self.aws.invoke(self.function, version, payload)

    def route(
        self, alias: str, target: Target, history: History, token: str | None, *, create: bool
    ) -> tuple[Target, str | None]:
        description = history.encode(self.limits.history_chars)
        result: dict[str, Any]
        if create:
            result = self.aws.create_alias(self.function, alias, target, description)
        else:
            result = self.aws.update_alias(self.function, alias, target, description, token)
        return target_from_alias(result), result.get("RevisionId")

    def signals(self, watch: Watch) -> tuple[tuple[str, ...], tuple[str, ...]]:
        watched = ("Errors by ExecutedVersion", *(f"alarm {a}" for a in watch.alarms))
        notes = tuple(
            f"note: alarm {a} is already ALARM; only a new transition counts"
            for a in red_alarms(self.aws, watch.alarms)
        )
        return watched, notes

    def signal(
        self, version: str, alias: str, since: datetime, now: datetime, watch: Watch
    ) -> str | None:
        return failing_signal(
            self.aws,
            function=self.function,
            alias=alias,
            version=version,
            since=since,
            now=now,
            alarms=watch.alarms,  # one red before the release counts only if it turns red again
            max_errors=watch.max_errors,
        )

    def status(self, as_json: bool) -> str:
        import json

        state = gather(self.aws, self.function)
        return json.dumps(state, indent=2) if as_json else render(state)
