"""The Lambda function object: an event in, its event source's result out, a metric line.

Built once per execution environment (at init, from handler.py). The event's source
(adapters/) reads it into a Request, the dispatcher answers it, the source writes the result;
this module adds what is Lambda's own: the EMF metric line, the log keys of the invocation,
X-Ray's subsegment when tracing is on, and SnapStart's restore hook.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from functions.predict.adapters import apigw_v2, require_http
from functions.predict.config import INIT_TYPE, Settings
from functions.predict.dispatch import Dispatcher
from functions.predict.exchange import Request
from functions.predict.metrics import UNITS, Recorder
from functions.predict.startup import load

if TYPE_CHECKING:
    # The typed context Lambda passes (mangum ships it as a Protocol); never imported at run time.
    from mangum.types import LambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
__all__ = ["UNITS", "PredictFunction", "build"]
_V2 = apigw_v2.SOURCE


class PredictFunction:
    def __init__(
        self,
        dispatch: Dispatcher,
        *,
        metrics: Metrics | None,
        tracer: Any = None,
    ) -> None:
        self.dispatch = dispatch
        self.service = dispatch.service
        self.logger = dispatch.logger
        self.metrics = metrics
        self.tracer = tracer
        self._cold = True
        self._context: Any = None
        dispatch.keys = self._keys
        manifest = self.service.manifest
        self.recorder = (
            Recorder(metrics, manifest.name, manifest.version) if metrics is not None else None
        )

    def after_restore(self) -> None:
        """SnapStart: a restored environment is a new one; nothing unique may carry over."""
        self._cold = True
        random.seed()  # the snapshot froze the generator's state: every restore would repeat it

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        start = time.perf_counter_ns()
        # The usual event first; any other source, or UnsupportedEvent naming the event.
        source = _V2 if _V2.infer(event) else require_http(event)
        request = source.read(event)
        self._context = context
        if self.tracer is None:
            answer = self.dispatch(request)
        else:
            with self.tracer.provider.in_subsegment("## predict"):
                answer = self.dispatch(request)
        result = source.write(answer)
        cold, self._cold = self._cold, False
        if self.recorder is not None:
            self.recorder.record(answer, time.perf_counter_ns() - start, cold)
        return result

    def _keys(self, request: Request) -> dict[str, Any]:
        """Added to each log line of this invocation (made only when a line is written: most
        invocations write none, so cheaper than Logger.append_keys on every one)."""
        return {
            "request_id": request.request_id,
            "function_request_id": getattr(self._context, "aws_request_id", None),
            "cold_start": self._cold,
        }


def build(
    env: Mapping[str, str],
    *,
    s3_client: Any = None,
    settings: Settings | None = None,
    logger: Logger | None = None,
) -> PredictFunction:
    """Load the model named by `env` and build the function; raise ModelInitError on failure."""
    settings = settings or Settings.from_mapping(env)
    dispatch = load(env, settings=settings, logger=logger, s3_client=s3_client)
    metrics = (
        Metrics(namespace=settings.namespace, service=settings.service)
        if settings.metrics
        else None
    )
    tracer = None
    if settings.tracing:
        from aws_lambda_powertools import Tracer  # imports the X-Ray SDK: only when asked for

        tracer = Tracer(service=settings.service)
    function = PredictFunction(dispatch, metrics=metrics, tracer=tracer)
    if env.get(INIT_TYPE) == "snap-start":
        from snapshot_restore_py import register_after_restore  # shipped with Lambda's runtime

        register_after_restore(function.after_restore)
    return function
