"""The function's CloudWatch metrics: one EMF line per invoke, from the answer it gave.

Latency and BatchSize on every prediction; ClientErrors and ServerErrors by status;
NonFiniteOutputs (the model's limits, worth an alarm of its own); ColdStart once per
execution environment. The lines are written from templates Powertools builds (emf.py).
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.predict.emf import EmfLines
from functions.predict.exceptions import NonFiniteOutput

UNITS = {
    "Latency": MetricUnit.Milliseconds.value,
    "BatchSize": MetricUnit.Count.value,
    "ClientErrors": MetricUnit.Count.value,
    "NonFiniteOutputs": MetricUnit.Count.value,
    "ServerErrors": MetricUnit.Count.value,
    "ColdStart": MetricUnit.Count.value,
}
_OK = ("Latency", "BatchSize")


class Recorder:
    """Writes each invoke's EMF line, dimensioned by the served model."""

    def __init__(self, metrics: Metrics, model: str, version: int) -> None:
        metrics.set_default_dimensions(model=model, model_version=str(version))
        self.emf = EmfLines(metrics, UNITS)
        # The usual sets, built now rather than on a request (others on first use).
        for names in (_OK, ("Latency", "BatchSize", "ColdStart")):
            self.emf.template(names)

    def record(
        self, status: int, batch: int, elapsed_ns: int, code: str | None, cold: bool
    ) -> None:
        emf = self.emf
        if batch and status < 400 and not cold:  # nearly every invoke: one f-string
            emf.emit_ok(_OK, elapsed_ns // 1000, batch)
            return
        names, values = ["Latency"], [elapsed_ns / 1e6]
        if batch:
            names.append("BatchSize")
            values.append(float(batch))
        if 400 <= status < 500:
            names.append("ClientErrors")
            values.append(1.0)
            if code == NonFiniteOutput.code:
                names.append("NonFiniteOutputs")
                values.append(1.0)
        elif status >= 500:
            names.append("ServerErrors")
            values.append(1.0)
        if cold:
            names.append("ColdStart")
            values.append(1.0)
        emf.emit(tuple(names), values)
