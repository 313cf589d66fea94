"""The one typed wrapper around the Cloud Run Admin API v2 and Cloud Monitoring.

It takes its clients (`run_v2.ServicesClient`, `run_v2.RevisionsClient`,
`monitoring_v3.MetricServiceClient`) and a `sleep`, so tests pass clients on a loopback fake
and count the waits. Every Google error becomes one of ours saying what failed, why and what
to do: a stale etag is the release engine's Conflict, a missing service its NotFound; quota
(429) and unavailability (503) are retried a bounded number of times first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from infra.cloudrun.exceptions import CloudRunCallError
from infra.release.exceptions import Conflict, NotFound

if TYPE_CHECKING:
    from google.cloud import run_v2

T = TypeVar("T")
RETRIES = 5  # attempts of one call on 429 / 503, waiting 1, 2, 4, 8 s between them
OPERATION_TIMEOUT_S = 600.0  # a revision that has not become ready by then is reported
METRIC = "run.googleapis.com/request_count"


class CloudRun:
    def __init__(
        self,
        services: Any,
        revisions: Any,
        metrics: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_initial_s: float = 1.0,
    ) -> None:
        self.services = services
        self.revisions_client = revisions
        self.metrics = metrics
        self.sleep = sleep
        self._poll_initial_s = poll_initial_s

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from google.api_core import exceptions as g

        for attempt in range(RETRIES):
            try:
                return fn()
            except (g.TooManyRequests, g.ServiceUnavailable) as exc:
                if attempt == RETRIES - 1:
                    raise CloudRunCallError(
                        f"{what} failed after {RETRIES} attempts: {_short(exc)}; wait and run "
                        "the command again (or raise the project's quota)"
                    ) from exc
                self.sleep(2.0**attempt)
            except g.Conflict as exc:  # Aborted (an etag mismatch) is a 409 too
                raise Conflict(
                    f"{what}: the service changed since it was read (etag mismatch: "
                    f"{_short(exc)}); someone else deployed or moved traffic. Run "
                    "`slipway status --target cloudrun` and try again"
                ) from exc
            except g.NotFound as exc:
                raise NotFound(
                    f"{what}: not found ({_short(exc)}); deploy the service first with "
                    "`slipway cloudrun manifest … | gcloud run services replace -`"
                ) from exc
            except g.GoogleAPICallError as exc:
                raise CloudRunCallError(f"{what} failed: {_short(exc)}") from exc
        raise AssertionError("unreachable")

    # -- Admin API ------------------------------------------------------------------------
    def service(self, name: str) -> run_v2.Service:
        found: run_v2.Service = self._call(
            f"reading service {name}", lambda: self.services.get_service(name=name)
        )
        return found

    def revisions(self, service: str) -> list[run_v2.Revision]:
        return self._call(
            f"listing the revisions of {service}",
            lambda: list(self.revisions_client.list_revisions(parent=service)),
        )

    def update(self, service: run_v2.Service) -> run_v2.Service:
        """UpdateService guarded by `service.etag`; waits for the operation to finish."""
        from google.api_core.future.polling import DEFAULT_POLLING

        polling = DEFAULT_POLLING.with_delay(initial=self._poll_initial_s).with_timeout(
            OPERATION_TIMEOUT_S
        )

        def run() -> run_v2.Service:
            op = self.services.update_service(service=service)
            result: run_v2.Service = op.result(polling=polling)
            return result

        return self._call(f"updating service {service.name}", run)

    # -- Monitoring -----------------------------------------------------------------------
    def errors_5xx(
        self, project: str, service: str, revision: str, since: datetime, now: datetime
    ) -> float:
        """Requests answered 5xx by `revision` between `since` and `now`."""
        from google.cloud import monitoring_v3
        from google.protobuf.timestamp_pb2 import Timestamp

        start, end = Timestamp(), Timestamp()
        start.FromDatetime(since)
        end.FromDatetime(now)
        request = monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{project}",
            filter=(
                f'metric.type = "{METRIC}" AND resource.type = "cloud_run_revision" AND '
                f'resource.labels.service_name = "{service}" AND '
                f'resource.labels.revision_name = "{revision}" AND '
                'metric.labels.response_code_class = "5xx"'
            ),
            interval=monitoring_v3.TimeInterval(start_time=start, end_time=end),
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
        )
        series = self._call(
            f"reading {METRIC} of revision {revision}",
            lambda: list(self.metrics.list_time_series(request=request)),
        )
        return float(sum(p.value.int64_value for s in series for p in s.points))


def _short(exc: Exception) -> str:
    return str(exc)[:300]


@contextmanager
def google_errors(what: str) -> Iterator[None]:
    """Credentials and connection errors while building the clients, as ours."""
    from google.auth import exceptions as auth

    try:
        yield
    except auth.GoogleAuthError as exc:
        raise CloudRunCallError(
            f"{what}: {_short(exc)}; run `gcloud auth application-default login`"
        ) from exc
