"""What a release checks before and while traffic moves: a smoke invoke and error signals.

The smoke invoke sends the manifest's example request, as an API Gateway HTTP API event, to
the new version itself (not the alias), so no caller sees it fail. The error signal is for
the new version only: Lambda's `Errors` metric with the ExecutedVersion dimension on the
alias, and alarms the user names that turn red after the release started. An alarm that was
already red before (say, for the bad version being replaced) does not block the fix.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from infra.aws.client import Aws
from infra.aws.exceptions import SmokeTestFailed
from infra.events import http_api_v2
from model_store.manifest import Manifest


def smoke_event(manifest: Manifest) -> dict[str, Any]:
    if manifest.example is None:
        raise SmokeTestFailed(
            f"model {manifest.ref} has no example request in its manifest, so the new version "
            "cannot be smoke-tested; register it with --sample, or pass --skip-smoke"
        )
    body = json.dumps(manifest.example).encode()
    return http_api_v2("POST", "/predict", body=body, headers={"content-type": "application/json"})


def check_smoke_reply(
    function_error: str | None, payload: bytes, manifest: Manifest, where: str
) -> None:
    """The reply must be a 200 from this model version with outputs; anything else fails."""
    text = payload.decode(errors="replace")[:300]
    if function_error:
        raise SmokeTestFailed(f"{where} failed the smoke invoke ({function_error}): {text}")
    try:
        reply = json.loads(payload)
        status = reply["statusCode"]
        raw = reply.get("body") or ""
        body = json.loads(base64.b64decode(raw) if reply.get("isBase64Encoded") else raw)
    except (ValueError, KeyError, TypeError):
        raise SmokeTestFailed(
            f"{where} did not answer the smoke invoke like the prediction function: {text}"
        ) from None
    if status != 200:
        raise SmokeTestFailed(f"{where} answered the smoke invoke with {status}: {text}")
    model = body.get("model") if isinstance(body, dict) else None
    if model != {"name": manifest.name, "version": manifest.version}:
        raise SmokeTestFailed(
            f"{where} serves {model}, not {manifest.ref}: the configuration did not take; {text}"
        )
    if not body.get("outputs"):
        raise SmokeTestFailed(f"{where} answered without outputs: {text}")


def smoke(aws: Aws, function: str, version: str, manifest: Manifest) -> None:
    event = smoke_event(manifest)
    error, payload = aws.invoke(function, version, json.dumps(event).encode())
    check_smoke_reply(error, payload, manifest, f"version {version} of {function}")


def red_alarms(aws: Aws, names: Sequence[str]) -> list[str]:
    return [n for n in names if aws.alarm(n).get("StateValue") == "ALARM"]


def failing_signal(
    aws: Aws,
    *,
    function: str,
    alias: str,
    version: str,
    since: datetime,
    now: datetime,
    alarms: Sequence[str],
    max_errors: float,
) -> str | None:
    """Why the new version looks bad since `since`, or None while it looks fine."""
    dims: Mapping[str, str] = {
        "FunctionName": function,
        "Resource": f"{function}:{alias}",
        "ExecutedVersion": version,
    }
    # Datapoints are stamped to the minute: look from the minute the shift began.
    start = since.replace(second=0, microsecond=0)
    errors = aws.metric_sum("Errors", dims, start, now + timedelta(minutes=1))
    if errors > max_errors:
        return (
            f"AWS/Lambda Errors for ExecutedVersion {version} on {function}:{alias} = "
            f"{errors:g} (limit {max_errors:g})"
        )
    for name in alarms:
        alarm = aws.alarm(name)
        changed = alarm.get("StateUpdatedTimestamp")
        if alarm.get("StateValue") == "ALARM" and changed is not None and changed >= since:
            return (
                f"alarm {name} went to ALARM at {changed:%H:%M:%S}: {alarm.get('StateReason', '')}"
            )
    return None
