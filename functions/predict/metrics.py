"""The function's CloudWatch metrics: one EMF line per invoke, from the answer it gave.

Latency and BatchSize on every prediction; ClientErrors and ServerErrors by status;
NonFiniteOutputs (the model's limits, worth an alarm of its own); ColdStart once per
execution environment.

Powertools' `flush_metrics` validates and serializes the whole metric set on every invoke
(about half of a batch-1 request's time in the handler). The lines only differ in their
timestamp and values, so each set of metric names gets its line from Powertools itself once
(`serialize_metric_set` + the same `json.dumps`), as the text between its values; an invoke
only joins the numbers in (EmfLines). tests/functions/predict/test_emf.py checks the lines
against the EMF specification and against Powertools' own for the same metrics.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from functions.predict.exceptions import NonFiniteOutput
from functions.predict.exchange import Answer

_MARK = "\x00{}\x00"  # a placeholder no metric, dimension or namespace can contain


class EmfLines:
    """Writes one EMF line per call to `emit`, in Powertools' exact format."""

    def __init__(self, metrics: Metrics, units: dict[str, str]) -> None:
        self.metrics = metrics
        self.units = units  # metric name -> its unit (MetricUnit value)
        self._templates: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.disabled = is_metrics_disabled()  # POWERTOOLS_METRICS_DISABLED, as flush honours

    def template(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The line for `names` as its literal parts: the timestamp goes between the first
        two, each value (in `names` order) between the next ones."""
        found = self._templates.get(names)
        if found is not None:
            return found
        m = self.metrics
        for name in names:
            m.add_metric(name=name, unit=self.units[name], value=0)
        try:
            line = m.serialize_metric_set()  # Powertools' validation runs here, once per set
        finally:
            m.clear_metrics()
        data = dict(line)
        data["_aws"] = {**line["_aws"], "Timestamp": _MARK.format(0)}
        for i, name in enumerate(names, 1):
            data[name] = [_MARK.format(i)]
        text = json.dumps(data, separators=(",", ":"))  # as flush_metrics prints it
        parts = []
        for i in range(len(names) + 1):
            # Powertools writes the timestamp before the metrics' values, in names' order.
            head, sep, text = text.partition(json.dumps(_MARK.format(i)))
            if not sep:
                raise ValueError(f"Powertools' EMF line for {names} has no place for value {i}")
            parts.append(head)
        parts.append(text)
        found = self._templates[names] = tuple(parts)
        return found

    def line(
        self, names: tuple[str, ...], values: Sequence[float], now_ms: int | None = None
    ) -> str:
        ts = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        parts = self.template(names)
        # repr: the shortest text that reads back as the same float, as json.dumps writes it.
        out = [parts[0], str(ts)]
        for part, value in zip(parts[1:], values, strict=False):
            out += (part, repr(value))
        out.append(parts[-1])
        return "".join(out)

    def emit(self, names: tuple[str, ...], values: Sequence[float]) -> None:
        if not self.disabled:
            # One write, to whatever sys.stdout is now (as print does; Lambda ships stdout).
            sys.stdout.write(self.line(names, values) + "\n")

    def emit_ok(self, names: tuple[str, ...], micros: int, count: int) -> None:
        """`emit` for a set of two metrics, a duration in milliseconds (`micros` µs, written
        at microsecond resolution) and a count (written as Powertools writes a whole float,
        "64.0"): every successful prediction's Latency and BatchSize.

        From integers, with no float formatting: right after onnxruntime's run, Python's
        float-to-text code is cold, and the two values cost about 4 µs of a request in the
        handler's sequence, against about 1 µs from integers (bench/hotpath.py).
        """
        if not self.disabled:
            parts = self._templates.get(names) or self.template(names)  # no call when built
            p0, p1, p2, p3 = parts
            ts = time.time_ns() // 1_000_000
            ms, frac = divmod(micros, 1000)
            sys.stdout.write(f"{p0}{ts}{p1}{ms}.{frac:03d}{p2}{count}.0{p3}\n")


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

    def record(self, answer: Answer, elapsed_ns: int, cold: bool) -> None:
        emf, status, batch = self.emf, answer.status, answer.batch
        if batch and status < 400 and not cold:  # nearly every invoke: one f-string
            emf.emit_ok(_OK, elapsed_ns // 1000, batch)
            return
        code = answer.code
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
