"""Errors of the Cloud Run commands. Each message says what failed, why, and what to do next."""

from __future__ import annotations

from infra.release.exceptions import ReleaseError


class CloudRunError(ReleaseError):
    """Base class of the errors only Cloud Run raises; printed without a traceback, exit 1."""


class ManifestError(CloudRunError):
    """Raise when the manifest's flags cannot make a valid service (a tag, a bad model ref)."""


class CloudRunCallError(CloudRunError):
    """Raise when a Cloud Run or Monitoring call fails for another reason than a stale etag
    or a missing resource (credentials, permissions, network, quota after the retries)."""
