"""Errors of the AWS release commands. Each message says what failed, why, and what to do next."""

from __future__ import annotations


class AwsReleaseError(Exception):
    """Base class of every AWS release error; printed without a traceback, exit code 1."""


class InvalidRequest(AwsReleaseError):
    """Raise when the command line asks for something Lambda would refuse (weights, versions)."""


class NotFound(AwsReleaseError):
    """Raise when a function, version, alias, bucket or alarm does not exist."""


class Conflict(AwsReleaseError):
    """Raise when someone else changed the function or alias since Slipway read it."""


class UpdateInProgress(AwsReleaseError):
    """Raise when the function is still being updated after the bounded wait."""


class UpdateFailed(AwsReleaseError):
    """Raise when Lambda reports LastUpdateStatus Failed for a configuration or code update."""


class SmokeTestFailed(AwsReleaseError):
    """Raise when the new version does not answer the manifest's example request correctly."""


class CanaryFailed(AwsReleaseError):
    """Raise when the error signal fired during a traffic shift (after the automatic rollback)."""


class PartialRelease(AwsReleaseError):
    """Raise when a step after the publish failed: the message says what state is left."""


class AwsCallError(AwsReleaseError):
    """Raise when an AWS call fails for another reason (credentials, network, permissions)."""
