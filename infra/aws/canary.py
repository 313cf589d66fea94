"""What a release on AWS watches while traffic moves: the new version's error signals.

(The smoke invoke is the engine's: `infra.release.engine.smoke`.) The signal is for
the new version only: Lambda's `Errors` metric with the ExecutedVersion dimension on the
alias, and alarms the user names that turn red after the release started. An alarm that was
already red before (say, for the bad version being replaced) does not block the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from infra.aws.client import Aws


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
