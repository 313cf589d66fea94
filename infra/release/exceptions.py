"""Errors of the release engine, shared by every platform. Messages say what failed and what next."""

from __future__ import annotations


class ReleaseError(Exception):
    """Base class of every release error; printed without a traceback, exit code 1."""


class InvalidRequest(ReleaseError):
    """Raise when the command line asks for something the platform would refuse."""


class AliasError(InvalidRequest):
    """Raise when an alias change breaks the alias rules, or names an alias that is not there."""


class NotFound(ReleaseError):
    """Raise when a function, version, alias, bucket or alarm does not exist."""


class VersionNotFound(NotFound):
    """Raise when a target names a version that was never published (or was deleted)."""


class AliasNotFound(NotFound, AliasError):
    """Raise when a command needs an alias that does not exist."""


class Conflict(ReleaseError):
    """Raise when someone else changed the function or alias since it was read (stale token)."""


class SmokeTestFailed(ReleaseError):
    """Raise when the new version does not answer the manifest's example request correctly."""


class CanaryFailed(ReleaseError):
    """Raise when the error signal fired during a traffic shift (after the automatic rollback)."""


class PartialRelease(ReleaseError):
    """Raise when a step after the publish failed: the message says what state is left."""
