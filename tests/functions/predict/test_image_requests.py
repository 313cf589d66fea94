"""Image requests through every front end in process (issue 24): the Lambda handler with HTTP
API v2, REST v1, Function URL and ALB events (as AWS sends an image: base64 with
isBase64Encoded), HTTP mode's ASGI app, and the Flask app (its WSGI app, and on Lambda through
serverless-wsgi). Each request form (tests/image_models.FORMS: raw bytes by Content-Type or
none, multipart, TF Serving's b64 instances, Hugging Face's JSON, the OIP's BYTES in JSON) is
sent to a PyTorch, a Keras and a Hugging Face-style model; the scores must equal the original
framework's on its reference preprocessing within the recorded tolerance, for scikit-learn's
two photographs and their variants. Every hostile image gets its documented status and code
on every front end.

`slipway serve` (the local platform), with real clients, is tests/infra/local/test_image_serve.py.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from infra import events
from tests.contract.clients import CTX, answer_from_lambda
from tests.hostile_images import HOSTILE, check_refused, photo
from tests.image_models import FORMS, Form, ImageModels, check, form_id

# Conversions with torch and keras in the session fixture (image_models): a minute or more.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

Reply = tuple[int, dict[str, str], bytes]
Send = Callable[[str, str, bytes, dict[str, str]], Reply]
LAMBDA_EVENTS = ("v2", "v1", "url", "alb", "alb-multi")
FRONT_ENDS = (
    *(f"lambda-{e}" for e in LAMBDA_EVENTS),
    "asgi",
    "flask",
    *(f"flask-lambda-{e}" for e in ("v2", "v1", "url", "alb")),
)
FRAMEWORKS = ("pytorch", "keras", "huggingface")


def alb_event(method: str, path: str, body: bytes, headers: dict[str, str], multi: bool) -> Any:
    """An ALB target group's event (payload 1.0's fields with requestContext.elb): the body
    base64-encoded unless it is text, as the load balancer sends it."""
    v1 = events.rest_v1(method, path, body=body, headers=headers)
    event: dict[str, Any] = {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                "targetgroup/slipway/0123456789abcdef"
            }
        },
        "httpMethod": method,
        "path": path,
        "body": v1["body"] or "",
        "isBase64Encoded": v1["isBase64Encoded"],
    }
    if multi:
        event["multiValueQueryStringParameters"] = {}
        event["multiValueHeaders"] = {k.lower(): [v] for k, v in headers.items()}
    else:
        event["queryStringParameters"] = {}
        event["headers"] = {k.lower(): v for k, v in headers.items()}
    return event


def lambda_event(kind: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    if kind == "v2":
        return events.http_api_v2(method, path, body=body, headers=headers)
    if kind == "url":
        return events.function_url(method, path, body=body, headers=headers)
    if kind == "v1":  # REST API keeps the client's capitalisation
        return events.rest_v1(
            method, path, body=body, headers={k.title(): v for k, v in headers.items()}
        )
    return alb_event(method, path, body, headers, multi=kind == "alb-multi")


def lambda_sender(handler: Callable[[Any, Any], Any], kind: str) -> Send:
    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        event = lambda_event(kind, method, path, body, headers)
        answer = answer_from_lambda(handler(copy.deepcopy(event), CTX))
        return answer.status, answer.headers, answer.body

    return send


def asgi_sender(app: Any) -> Send:
    import httpx

    async def post(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://slipway") as client:
            r = await client.request(method, path, content=body, headers=headers)
            return r.status_code, dict(r.headers), r.content

    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        return asyncio.run(post(method, path, body, headers))

    return send


def flask_sender(app: Any) -> Send:
    client = app.test_client()

    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        r = client.open(path, method=method, data=body, headers=headers)
        return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.get_data()

    return send


class FrontEnds:
    """Each front end over each model, built on first use and kept for the module."""

    def __init__(self, models: ImageModels) -> None:
        self.models = models
        self._made: dict[tuple[str, str], Send] = {}
        self._apps: dict[tuple[str, str], Any] = {}

    def env(self, framework: str, **extra: str) -> dict[str, str]:
        return {
            "SLIPWAY_STORE": str(self.models.store),
            "SLIPWAY_MODEL": self.models.models[framework].ref,
            "SLIPWAY_METRICS": "off",
            **extra,
        }

    def app(self, framework: str, kind: str) -> Any:
        key = (framework, kind)
        if key not in self._apps:
            env = self.env(framework)
            if kind == "lambda":
                from functions.predict.runtime import build

                self._apps[key] = build(env)
            elif kind == "asgi":
                from functions.predict.adapters.asgi import create

                self._apps[key] = create(env)
            else:
                from functions.flask_api.app import create_app
                from functions.predict.config import Settings
                from functions.predict.service import PredictionService

                settings = Settings.from_mapping(env)
                self._apps[key] = create_app(PredictionService.from_settings(settings))
        return self._apps[key]

    def __call__(self, framework: str, front_end: str) -> Send:
        key = (framework, front_end)
        if key not in self._made:
            if front_end.startswith("lambda-"):
                send = lambda_sender(self.app(framework, "lambda"), front_end[len("lambda-") :])
            elif front_end == "asgi":
                send = asgi_sender(self.app(framework, "asgi"))
            elif front_end == "flask":
                send = flask_sender(self.app(framework, "flask"))
            else:
                from functions.flask_api.wsgi_lambda import make_handler

                app = self.app(framework, "flask")
                handler = make_handler(app, app.extensions["slipway"].model_headers)
                send = lambda_sender(handler, front_end[len("flask-lambda-") :])
            self._made[key] = send
        return self._made[key]


@pytest.fixture(scope="module")
def front_ends(image_models: ImageModels) -> FrontEnds:
    return FrontEnds(image_models)


@pytest.mark.parametrize("form", FORMS, ids=[form_id(f) for f in FORMS])
@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_form_through_each_front_end_scores_as_the_framework(
    image_models: ImageModels, front_ends: FrontEnds, framework: str, front_end: str, form: Form
) -> None:
    model = image_models.models[framework]
    body, headers = form.request(image_models.items)
    status, answer_headers, raw = front_ends(framework, front_end)(
        "POST", form.path(model), body, headers
    )
    assert answer_headers.get("content-type") == "application/json", answer_headers
    if form.name != "oip-json":
        assert answer_headers.get("x-model-name") == model.name
    check(model, form, status, json.loads(raw))


# -- hostile images and refused requests --------------------------------------------------------


@pytest.mark.parametrize("case", HOSTILE, ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_each_hostile_image_gets_its_status_on_each_front_end(
    front_ends: FrontEnds, front_end: str, case: Any
) -> None:
    send = front_ends("pytorch", front_end)
    body, headers = case[1]()
    status, answer_headers, raw = send("POST", "/predict", body, headers)
    check_refused(case, status, answer_headers.get("content-type"), raw)
    # And the next request is served as usual: nothing was left behind.
    assert send("POST", "/predict", photo(), {})[0] == 200
