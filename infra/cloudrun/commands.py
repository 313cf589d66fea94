"""The release verbs for `--target cloudrun` (see infra/release/verbs.py).

Project, region and service come from --project/--region/--service (here: --function) or
SLIPWAY_CLOUDRUN_* (infra/cloudrun/settings.py). Credentials are Application Default
Credentials. Tests pass `run` (clients on a loopback fake) instead of connecting.
"""

from __future__ import annotations

import argparse
import os

from infra.cloudrun.client import CloudRun, google_errors
from infra.cloudrun.platform import CloudRunReleasePlatform
from infra.cloudrun.settings import Settings
from model_store.backends import open_store


def connect(settings: Settings) -> CloudRun:
    from google.cloud import monitoring_v3, run_v2

    with google_errors("connecting to Google Cloud"):
        options = {"api_endpoint": settings.endpoint} if settings.endpoint else None
        transport = "rest"  # the Admin API's JSON surface; Monitoring has gRPC only
        return CloudRun(
            run_v2.ServicesClient(transport=transport, client_options=options),
            run_v2.RevisionsClient(transport=transport, client_options=options),
            monitoring_v3.MetricServiceClient(),
        )


def id_token(audience: str) -> str | None:
    """An ID token for the smoke request (a service not open to allUsers wants one)."""
    from google.auth import exceptions
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token as tokens

    try:
        token: str = tokens.fetch_id_token(Request(), audience)  # type: ignore[no-untyped-call]
        return token
    except exceptions.GoogleAuthError:
        return None  # the request goes without one; a 403 then fails the smoke test clearly


def settings(args: argparse.Namespace) -> Settings:
    return Settings.from_mapping(
        os.environ,
        project=getattr(args, "project", None),
        region=getattr(args, "region", None),
        service=args.function,
    )


def platform(args: argparse.Namespace, run: CloudRun | None = None) -> CloudRunReleasePlatform:
    """The Cloud Run platform for these flags: connects unless a test passes `run`."""
    found = settings(args)
    return CloudRunReleasePlatform(
        run or connect(found),
        found,
        source=lambda: open_store(getattr(args, "source_store", None)),
        image=getattr(args, "image_uri", None),
        manifest=getattr(args, "manifest", None),
        id_token=id_token if run is None else (lambda audience: None),
    )
