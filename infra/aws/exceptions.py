"""Errors of the AWS release commands. Each message says what failed, why, and what to do next.

The errors every platform shares (a refused request, a stale token, a failed smoke invoke or
canary) are the release engine's (`infra.release.exceptions`); these are AWS's own.
"""

from __future__ import annotations

from infra.release.exceptions import (
    CanaryFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PartialRelease,
    ReleaseError,
    SmokeTestFailed,
)

__all__ = [
    "AwsCallError",
    "AwsReleaseError",
    "CanaryFailed",
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PartialRelease",
    "SmokeTestFailed",
    "UpdateFailed",
    "UpdateInProgress",
]


class AwsReleaseError(ReleaseError):
    """Base class of the errors only AWS raises; printed without a traceback, exit code 1."""


class UpdateInProgress(AwsReleaseError):
    """Raise when the function is still being updated after the bounded wait."""


class UpdateFailed(AwsReleaseError):
    """Raise when Lambda reports LastUpdateStatus Failed for a configuration or code update."""


class AwsCallError(AwsReleaseError):
    """Raise when an AWS call fails for another reason (credentials, network, permissions)."""
