"""The Locust user of `slipway loadtest`, run by the `locust` command in a child process.

Every request is appended to a records file (start time, latency, status, X-Model-Version),
so the parent computes percentiles per model version itself instead of reading Locust's
pooled statistics. Once the request budget is spent the runner quits, so the run stops by
itself before --run-time when the budget is reached first.
"""

from __future__ import annotations

import os
import time
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.exception import StopUser

from infra.loadtest.config import read_child_env

BODY_FILE, RECORDS_FILE, MAX_REQUESTS, PATH, CACERT, INSECURE = read_child_env(os.environ)
with open(BODY_FILE, encoding="utf-8") as _fh:
    BODY = _fh.read()  # JSON text; FastHttpSession.post types `data` as str
_records = open(RECORDS_FILE, "w", buffering=1 << 16)  # noqa: SIM115 - closed at quitting
_sent = 0
_quitting = False


def _ssl_context() -> Any:
    import gevent.ssl

    return gevent.ssl.create_default_context(cafile=CACERT)


def _record(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    exception: Any = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    version = headers.get("x-model-version") or headers.get("X-Model-Version") or "-"
    error = "" if exception is None else type(exception).__name__
    started = start_time if start_time is not None else time.time() - response_time / 1000.0
    _records.write(f"{started:.6f},{response_time:.3f},{status},{version},{error}\n")


def _close(**_: Any) -> None:
    _records.flush()
    _records.close()


def _listen(hook: Any, listener: Any) -> None:
    """locust's add_listener is untyped; as a decorator it would untype the listener too."""
    hook.add_listener(listener)


_listen(events.request, _record)
_listen(events.quitting, _close)


class PredictUser(FastHttpUser):
    # Verify TLS unless told not to; a self-signed endpoint passes its CA with --cacert.
    insecure = INSECURE
    ssl_context_factory = None if INSECURE else staticmethod(_ssl_context)
    connection_timeout = 30.0
    network_timeout = 60.0

    @task
    def predict(self) -> None:
        global _sent, _quitting
        if MAX_REQUESTS and _sent >= MAX_REQUESTS:
            # Budget spent: stop the whole run from outside the users' own greenlets.
            if not _quitting:
                _quitting = True
                gevent.spawn(self.environment.runner.quit)
            raise StopUser()
        _sent += 1
        with self.client.post(
            PATH,
            data=BODY,
            headers={"content-type": "application/json"},
            name=PATH,
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")
