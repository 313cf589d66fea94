"""The function's EMF lines: valid by the Embedded Metric Format specification, and the same
text aws-lambda-powertools prints for the same metrics.

The specification's structure is written out below as a JSON Schema, from
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
(root `_aws` with `Timestamp` in epoch milliseconds and `CloudWatchMetrics`, each directive a
`Namespace`, `Dimensions` as arrays of at most 30 dimension keys, and `Metrics` with `Name` and
an optional `Unit` from CloudWatch's list); plus the rules a schema cannot say: every dimension
key and metric name is a root member, dimension values are strings, metric values numbers or
arrays of at most 100 numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.constants import MAX_DIMENSIONS

from functions.predict.metrics import EmfLines
from functions.predict.runtime import UNITS, build
from infra.events import http_api_v2

CTX = SimpleNamespace(aws_request_id="req-1", function_name="predict")
UNIT_NAMES = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
]  # fmt: skip
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                    "maxItems": 30,
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 1024,
                                        },
                                        "Unit": {"enum": UNIT_NAMES},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def check_emf(line: dict[str, Any]) -> None:
    jsonschema.validate(line, EMF_SCHEMA)
    for directive in line["_aws"]["CloudWatchMetrics"]:
        for dims in directive["Dimensions"]:
            for key in dims:
                assert isinstance(line[key], str), key  # a dimension's value: a root string
        for metric in directive["Metrics"]:
            value = line[metric["Name"]]  # a metric's value: a root number or number array
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def powertools_line(names: tuple[str, ...], values: list[float], ts: int) -> str:
    """What Powertools' own flush_metrics prints for the same metrics."""
    m = Metrics(namespace="Slipway", service="slipway-predict")
    m.set_default_dimensions(model="digits", model_version="1")
    for name, value in zip(names, values, strict=True):
        m.add_metric(name=name, unit=UNITS[name], value=value)
    m.set_timestamp(ts)
    line = json.dumps(m.serialize_metric_set(), separators=(",", ":"))
    m.clear_metrics()
    return line


SETS = [
    (("Latency", "BatchSize"), [0.4321, 64.0]),
    (("Latency", "BatchSize", "ColdStart"), [12.5, 1.0, 1.0]),
    (("Latency", "ClientErrors"), [0.1, 1.0]),
    (("Latency", "BatchSize", "ClientErrors", "NonFiniteOutputs"), [3.0, 2.0, 1.0, 1.0]),
    (("Latency", "ServerErrors", "ColdStart"), [1e-05, 1.0, 1.0]),
]


@pytest.mark.parametrize(("names", "values"), SETS)
def test_lines_are_powertools_lines_byte_for_byte(names, values) -> None:
    m = Metrics(namespace="Slipway", service="slipway-predict")
    m.set_default_dimensions(model="digits", model_version="1")
    lines = EmfLines(m, UNITS)
    ts = time.time_ns() // 1_000_000
    ours = lines.line(names, values, now_ms=ts)
    assert ours == powertools_line(names, values, ts)
    check_emf(json.loads(ours))
    # The template is kept: a second line differs only in its values and time.
    again = json.loads(lines.line(names, [v * 2 for v in values], now_ms=ts + 1))
    assert again["_aws"]["Timestamp"] == ts + 1
    assert [again[n] for n in names] == [[v * 2] for v in values]


@pytest.mark.parametrize(
    ("micros", "count"), [(0, 1), (1, 1), (999, 64), (1000, 2), (432_109, 1000), (12_345_678, 7)]
)
def test_the_success_line_from_integers_is_powertools_line_for_the_same_values(
    micros: int, count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """emit_ok writes Latency at microsecond resolution and BatchSize as a whole float: the
    same JSON as Powertools' line for micros / 1000 ms and float(count)."""
    m = Metrics(namespace="Slipway", service="slipway-predict")
    m.set_default_dimensions(model="digits", model_version="1")
    lines = EmfLines(m, UNITS)
    names = ("Latency", "BatchSize")
    capsys.readouterr()
    lines.emit_ok(names, micros, count)
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1
    ours = json.loads(out)
    check_emf(ours)
    now = ours["_aws"]["Timestamp"]
    theirs = json.loads(powertools_line(names, [micros / 1000, float(count)], now))
    assert ours == theirs
    assert out.split('"BatchSize":[')[1].startswith(f"{count}.0]")  # as Powertools: 64.0
    assert abs(ours["_aws"]["Timestamp"] - time.time() * 1000) < 60_000


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_dimension_with_braces_or_quotes_stays_valid() -> None:
    m = Metrics(namespace="Slip{way}", service='svc "x"')
    m.set_default_dimensions(model="{0}", model_version="1")
    line = EmfLines(m, UNITS).line(("Latency",), [1.5], now_ms=5)
    parsed = json.loads(line)
    check_emf(parsed)
    assert parsed["model"] == "{0}" and parsed["service"] == 'svc "x"'
    assert parsed["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Slip{way}"


@pytest.mark.filterwarnings("ignore::UserWarning")  # powertools: default dimensions re-added
def test_the_handlers_lines(example_store: Path, capsys) -> None:
    fn = build({"SLIPWAY_STORE": str(example_store), "POWERTOOLS_SERVICE_NAME": "emf-lines"})
    capsys.readouterr()
    ok = http_api_v2("POST", "/predict", body=json.dumps({"inputs": [[0.0] * 64] * 3}).encode())
    fn(ok, CTX)
    fn(ok, CTX)
    fn(http_api_v2("POST", "/predict", body=b"[]"), CTX)
    fn(http_api_v2("GET", "/v2/health/ready"), CTX)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert len(lines) == 4
    for line in lines:
        check_emf(line)
        assert line["service"] == "emf-lines" and line["model"] == "digits"
        assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Slipway"
        assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
            ["model", "model_version", "service"]
        ]
        assert len(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) <= MAX_DIMENSIONS
    cold, warm, refused, health = lines
    assert cold["ColdStart"] == [1.0] and cold["BatchSize"] == [3.0]
    assert "ColdStart" not in warm and warm["BatchSize"] == [3.0] and warm["Latency"][0] > 0
    assert refused["ClientErrors"] == [1.0] and "BatchSize" not in refused
    assert set(health) - {"_aws", "service", "model", "model_version"} == {"Latency"}


def test_powertools_metrics_disabled_is_honoured(example_store: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    fn = build({"SLIPWAY_STORE": str(example_store), "POWERTOOLS_SERVICE_NAME": "emf-off"})
    capsys.readouterr()
    fn(http_api_v2("GET", "/health"), CTX)
    assert '"_aws"' not in capsys.readouterr().out
