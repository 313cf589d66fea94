"""The smoke request over HTTP: how the release engine smoke-tests a Cloud Run revision.

The engine's smoke invoke is an API Gateway event (`infra.release.engine.smoke_event`); a
revision answers HTTP, at its tag URL on Cloud Run or at a local instance's
(`--target local-cloudrun`), and its answer goes back to the engine as a Lambda result.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

SMOKE_TIMEOUT_S = 60.0


def http_invoke(
    base: str, payload: bytes, *, token: str | None = None, timeout: float = SMOKE_TIMEOUT_S
) -> tuple[str | None, bytes]:
    """The API Gateway event's request sent over HTTP to `base` (a revision's URL), its answer
    returned as a Lambda result payload: how the release engine smoke-tests a revision."""
    event = json.loads(payload)
    url = base.rstrip("/") + str(event.get("rawPath") or "/")
    if event.get("rawQueryString"):
        url += "?" + str(event["rawQueryString"])
    headers = dict(event.get("headers") or {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    raw = str(event.get("body") or "")
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    method = str((event.get("requestContext") or {}).get("http", {}).get("method") or "POST")
    request = urllib.request.Request(url, data=body or None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    except OSError as exc:
        return f"could not reach {url}: {exc}", b""
    reply = {"statusCode": status, "body": text.decode(errors="replace")}
    return None, json.dumps(reply).encode()
