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
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from infra import events
from tests.contract.clients import CTX, answer_from_lambda
from tests.image_models import FORMS, Form, ImageModels, check, form_id
from tests.photos import bomb_png, encode, jpeg, photos, png_header

# Conversions with torch and keras in the session fixture (image_models): a minute or more.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

Reply = tuple[int, dict[str, str], bytes]
Send = Callable[[str, str, bytes, dict[str, str]], Reply]
Request = tuple[bytes, dict[str, str]]  # a body and its headers
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


def _tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF")
    return out.getvalue()


def _multipart(parts: list[bytes], close: bool = True) -> tuple[bytes, dict[str, str]]:
    import httpx

    files = [("image", (f"{i}.png", p, "image/png")) for i, p in enumerate(parts)]
    request = httpx.Request("POST", "http://x/predict", files=files)
    raw = request.read()
    if not close:
        raw = raw[: raw.rindex(b"--\r\n") - 40]  # cut before the closing boundary
    return raw, {"content-type": request.headers["content-type"]}


def _corrupt_png() -> bytes:
    data = bytearray(encode(Image.fromarray(photos()[0]), "PNG"))
    data[40:60] = b"\xff" * 20
    return bytes(data)


def _tiny_png() -> bytes:
    return encode(Image.new("RGB", (4, 3), (200, 10, 10)), "PNG")


def _photo() -> bytes:
    return jpeg(photos()[0])


def _raw(data: Callable[[], bytes], media: str | None = None) -> Callable[[], Request]:
    return lambda: (data(), {"content-type": media} if media else {})


# (what, the request (made when the test runs), status, code, what the message names)
HOSTILE: list[tuple[str, Callable[[], Request], int, str, str]] = [
    ("pixels-by-header", _raw(lambda: png_header(30_000, 20_000), "image/png"), 413,
     "image_too_large", "30000x20000"),
    ("decompression-bomb", _raw(bomb_png), 413, "image_too_large", "10000x10000"),
    ("tiff", _raw(_tiff, "image/tiff"), 415, "unsupported_image", "image/tiff"),
    ("heic", _raw(lambda: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "image/heic"), 415,
     "unsupported_image", "image/heic"),
    ("svg", _raw(lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
                 "image/svg+xml"), 415, "unsupported_image", "svg"),
    ("pdf-sent-as-jpeg", _raw(lambda: b"%PDF-1.7\n" + b"\x00" * 64, "image/jpeg"), 415,
     "unsupported_image", "application/pdf"),
    ("not-an-image", _raw(lambda: b"\x00\x01\x02\x03" * 16, "application/octet-stream"), 415,
     "unsupported_image", "not an image"),
    ("truncated-jpeg", _raw(lambda: _photo()[: len(_photo()) // 2], "image/jpeg"), 422,
     "invalid_image", "JPEG"),
    ("corrupt-png", _raw(_corrupt_png, "image/png"), 422, "invalid_image", "PNG"),
    ("multipart-unclosed", lambda: _multipart([_tiny_png()], close=False), 400,
     "invalid_multipart", "closing boundary"),
    ("too-many-images", lambda: _multipart([_tiny_png()] * 33), 413, "payload_too_large",
     "33 images"),
    ("text-plain", _raw(lambda: b"a photo of a cat", "text/plain"), 415,
     "unsupported_media_type", "text/plain"),
    ("hf-not-base64", _raw(lambda: b'{"inputs": "***not base64***"}'), 400, "invalid_base64",
     "base64"),
    ("hf-base64-of-text", _raw(lambda: b'{"inputs": "aGVsbG8gd29ybGQ="}'), 415,
     "unsupported_image", "text"),
    ("tf-instance-rows", _raw(lambda: b'{"instances": [[1, 2, 3]]}', "application/json"), 422,
     "invalid_input", "b64"),
    ("body-over-the-limit", _raw(lambda: _photo() + b"\x00" * (5 * 1024 * 1024), "image/jpeg"),
     413, "payload_too_large", "limit"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "make", "status", "code", "named"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_each_hostile_image_gets_its_status_on_each_front_end(
    front_ends: FrontEnds,
    front_end: str,
    what: str,
    make: Callable[[], Request],
    status: int,
    code: str,
    named: str,
) -> None:
    send = front_ends("pytorch", front_end)
    body, headers = make()
    got, answer_headers, raw = send("POST", "/predict", body, headers)
    assert got == status, raw[:400]
    assert answer_headers.get("content-type") == "application/json", answer_headers
    error = json.loads(raw)["error"]
    assert (error["status"], error["code"]) == (status, code), error
    assert named.lower() in error["message"].lower(), error
    assert len(raw) < 2000  # bounded, whatever was sent
    # And the next request is served as usual: nothing was left behind.
    assert send("POST", "/predict", _photo(), {})[0] == 200
