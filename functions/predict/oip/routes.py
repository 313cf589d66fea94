"""The Open Inference Protocol's routes for one loaded model; every constant answer built once.

Pure: a method, a path and the request's body in, an Answer out. The dispatcher hands it
every path under /v2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import orjson

from functions.predict.body import JSON
from functions.predict.errors import oip_error_body
from functions.predict.exceptions import HTTPError, MethodNotAllowed, ModelNotFound, NotFound
from functions.predict.exchange import Answer
from functions.predict.messages import clip, quote
from functions.predict.oip import EXTENSIONS, PLATFORM, tensor_metadata
from functions.predict.oip.reader import RequestReader
from functions.predict.oip.writer import AnswerWriter
from functions.predict.service import PredictionService

_GET = ("GET", "HEAD")


def is_oip(path: str) -> bool:
    return path == "/v2" or path.startswith("/v2/")


class Protocol:
    def __init__(self, service: PredictionService, server_version: str = "1") -> None:
        self.service = service
        manifest = service.manifest
        self.name, self.version = manifest.name, str(manifest.version)
        self.reader = RequestReader(service)
        processing = service.processing
        self._extras = processing.extras if processing is not None else None
        self.writer = AnswerWriter(service, self.reader.all_binary)
        self._json = {**service.model_headers, "content-type": JSON}
        self._metadata = self._ok(self.model_metadata())
        self._server = self._ok(
            {"name": "slipway", "version": server_version, "extensions": list(EXTENSIONS)}
        )
        self._live = self._ok({"live": True})
        self._ready = self._ok({"ready": True})
        self._model_ready = self._ok({"name": self.name, "ready": True})
        # The infer routes' plain spellings (what _route finds for them), looked up first.
        base = f"/v2/models/{self.name}"
        self.infer_paths = frozenset(
            {f"{base}/infer", f"{base}/versions/{self.version}/infer"}
            if "/" not in self.name and "%" not in self.name and "/" not in self.version
            else ()
        )

    def model_metadata(self) -> dict[str, Any]:
        manifest = self.service.manifest
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": PLATFORM,
            "inputs": [tensor_metadata(s) for s in self.reader.input_specs],
            "outputs": [
                tensor_metadata(s) for s in (*manifest.outputs, *self.reader.extra_outputs)
            ],
        }

    def reads_body(self, method: str, path: str) -> bool:
        """Whether the request reads its body (a POST that may be an `infer`)."""
        return method == "POST" and path.endswith("/infer")

    def answer(
        self, method: str, path: str, body: bytes = b"", header_length: str | None = None
    ) -> Answer:
        """The answer to `method path` (a path under /v2) with the request's raw body."""
        try:
            if method == "POST" and path in self.infer_paths:  # the usual request: no parsing
                return self.infer(body, header_length)
            return self._route(method, path, body, header_length)
        except HTTPError as err:
            return self.error(err)

    def infer(self, raw: bytes, header_length: str | None) -> Answer:
        feeds, outputs, batch, request_id = self.reader.parse(raw, header_length)
        # onnxruntime's refusals: the dispatcher's (service.refusal); encode checks outputs.
        results = self.service.model.run(feeds)
        if self._extras is not None:  # the processing's outputs after the model's
            results = [*results, *self._extras.extra(results, feeds)]
        return self.writer.encode(outputs, batch, request_id, results)

    def error(self, err: HTTPError, headers: Mapping[str, str] | None = None) -> Answer:
        return Answer(err.status, oip_error_body(err), headers or self._json, code=err.code)

    def _not_allowed(self, method: str, path: str, allow: str) -> Answer:
        err = MethodNotAllowed(f"{clip(method, 40)} is not allowed on {clip(path)}")
        return self.error(err, {**self._json, "allow": allow})

    def _ok(self, payload: Any) -> Answer:
        return Answer(200, orjson.dumps(payload), self._json)

    def _route(self, method: str, path: str, body: bytes, header_length: str | None) -> Answer:
        parts = path.rstrip("/").split("/")[2:]  # after "", "v2"
        if not parts:
            return self._get(method, path, self._server)
        if parts[0] == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
            return self._get(method, path, self._live if parts[1] == "live" else self._ready)
        if parts[0] != "models" or len(parts) < 2:
            raise NotFound(
                f"no Open Inference Protocol route for {clip(path)}; "
                f"the model is at /v2/models/{self.name}"
            )
        name, rest = unquote(parts[1]), parts[2:]
        if name != self.name:
            raise ModelNotFound(
                f"no model named {quote(name)} here; this endpoint serves "
                f"{self.name!r} (version {self.version})"
            )
        if rest[:1] == ["versions"]:
            if len(rest) < 2:
                raise NotFound(f"{clip(path)} names no version")
            version = unquote(rest[1])
            if version != self.version:
                raise ModelNotFound(
                    f"model {self.name!r} has no version {quote(version)} here; "
                    f"this endpoint serves version {self.version}"
                )
            rest = rest[2:]
        if not rest:
            return self._get(method, path, self._metadata)
        if rest == ["ready"]:
            return self._get(method, path, self._model_ready)
        if rest == ["infer"]:
            if method != "POST":
                return self._not_allowed(method, path, "POST")
            return self.infer(body, header_length)
        raise NotFound(f"no Open Inference Protocol route for {clip(path)}")

    def _get(self, method: str, path: str, answer: Answer) -> Answer:
        return answer if method in _GET else self._not_allowed(method, path, "GET")
