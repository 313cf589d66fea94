"""`slipway invoke`: run the prediction function in process on one API Gateway event."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from types import SimpleNamespace
from typing import Any

from functions.predict.config import MODEL, MODEL_SHA256, STORE
from infra import events


def register(sub: Any) -> None:
    p = sub.add_parser(
        "invoke",
        help="invoke the prediction function in process with an API Gateway event",
        description="Load the model as Lambda init would, send one request, print the response.",
    )
    p.add_argument("--model", help="name[@version] or s3://… (default: newest digits)")
    p.add_argument("--sha256", help="expected model sha256 (required for s3://)")
    p.add_argument("--store", help="local model store directory")
    p.add_argument(
        "--format", choices=("v2", "v1", "url"), default="v2", help="event format (default: v2)"
    )
    p.add_argument("--method", default="POST")
    p.add_argument("--path", default="/predict")
    p.add_argument("--body", help="request body (default: the model's example request)")
    p.set_defaults(func=cmd_invoke)


def cmd_invoke(args: argparse.Namespace) -> int:
    # Here, not at the top: every `slipway` command imports this module to build its parser,
    # and the function's runtime adds 18 ms (-X importtime) and onnxruntime when it builds.
    from functions.predict.runtime import build

    env = dict(os.environ)
    env.update(
        {
            k: v
            for k, v in ((MODEL, args.model), (MODEL_SHA256, args.sha256), (STORE, args.store))
            if v
        }
    )
    env.setdefault("SLIPWAY_METRICS", "off")
    start = time.perf_counter()
    function = build(env)
    init_ms = (time.perf_counter() - start) * 1000
    body = args.body
    if body is None and args.method == "POST":
        body = json.dumps(function.service.manifest.example or {"inputs": []})
    raw = body.encode() if body is not None else None
    headers = {"content-type": "application/json", "user-agent": "slipway-invoke"}
    make = {"v2": events.http_api_v2, "url": events.function_url, "v1": events.rest_v1}[args.format]
    event = make(args.method, args.path, body=raw, headers=headers)
    context = SimpleNamespace(aws_request_id="slipway-invoke", function_name="predict")
    start = time.perf_counter()
    response = function(event, context)
    ms = (time.perf_counter() - start) * 1000
    print(f"init {init_ms:.1f} ms, invoke {ms:.2f} ms", file=sys.stderr)
    print(json.dumps(response, indent=2))
    return 0 if int(response.get("statusCode", 500)) < 400 else 1
