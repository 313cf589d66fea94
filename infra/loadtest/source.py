"""Where a load test's model manifest comes from: the endpoint's GET /model, or the local store."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from infra.loadtest.exceptions import ManifestFetchError
from model_store.backends.local import LocalStore
from model_store.manifest import parse_ref


def split_url(url: str) -> tuple[str, str]:
    """(host incl. any stage prefix, path) for a predict URL; a bare base URL means /predict."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ManifestFetchError(f"{url!r} is not an http:// or https:// URL")
    if url.endswith("/predict"):
        return url[: -len("/predict")], "/predict"
    return url, "/predict"


def ssl_context(cacert: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=cacert)


def fetch_manifest(
    host: str, *, cacert: str | None = None, insecure: bool = False, timeout: float = 30.0
) -> dict[str, Any]:
    """GET host/model: the manifest of the model behind the endpoint."""
    url = f"{host}/model"
    ctx = ssl_context(cacert, insecure) if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:  # noqa: S310
            data = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise ManifestFetchError(f"GET {url} answered {exc.code}; pass --model instead") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        hint = " (a self-signed certificate? pass --cacert FILE or --insecure)" if ctx else ""
        raise ManifestFetchError(f"GET {url} failed: {exc}{hint}") from exc
    if not isinstance(data, dict) or "inputs" not in data:
        raise ManifestFetchError(f"GET {url} did not return a model manifest")
    return data


def local_manifest(ref: str, store: str | None) -> dict[str, Any]:
    """The manifest (with its example body) of `name[@version]` in a local store."""
    name, version = parse_ref(ref)
    return LocalStore(store).manifest(name, version).to_dict()
