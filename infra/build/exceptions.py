"""Errors of `slipway build`: each says what went wrong and what to do."""

from __future__ import annotations


class BuildError(Exception):
    """Raise when a build cannot produce a deployable function and layer."""


class LockError(BuildError):
    """Raise when the layer's lock file is missing, unreadable, or does not cover a target."""


class DependencyInstallError(BuildError):
    """Raise when pip cannot install the locked wheels for the target platform."""


class LimitExceeded(BuildError):
    """Raise when the artifacts are over a Lambda size limit; names the biggest contributors."""


class ImageBuildError(BuildError):
    """Raise when the container image cannot be built: a missing tool, a failed base or compile."""
