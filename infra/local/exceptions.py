"""Errors of the local platform.

Version and alias rule violations are the release engine's (`infra.release.exceptions`),
the same on every platform; they are named here too for the local platform's callers.
"""

from __future__ import annotations

from infra.release.exceptions import AliasError, VersionNotFound

__all__ = [
    "AliasError",
    "FunctionError",
    "FunctionTimeout",
    "InitFailed",
    "InvokeError",
    "LocalPlatformError",
    "RuntimeCrashed",
    "StateError",
    "Throttled",
    "VersionNotFound",
]


class LocalPlatformError(Exception):
    """Base class of the local platform's errors; messages say what to do next."""


class StateError(LocalPlatformError):
    """Raise when the platform's state file is unreadable or a change breaks a rule."""


class InvokeError(LocalPlatformError):
    """Raise when an invocation fails on the platform's side (mapped to a gateway status)."""

    status = 502
    error_type = "Lambda.ServiceException"

    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_type:
            self.error_type = error_type


class Throttled(InvokeError):
    """Raise when every execution environment the concurrency limit allows is busy."""

    status = 429
    error_type = "TooManyRequestsException"


class FunctionTimeout(InvokeError):
    """Raise when an invocation runs past the function's timeout (a function error: 502)."""

    error_type = "Sandbox.Timedout"


class InitFailed(InvokeError):
    """Raise when an execution environment fails during init (e.g. a bad model)."""

    error_type = "Runtime.InitError"


class RuntimeCrashed(InvokeError):
    """Raise when the runtime process exits while an invocation is in flight."""

    error_type = "Runtime.ExitError"


class FunctionError(InvokeError):
    """Raise when the handler raised (the runtime posted an invocation error)."""

    error_type = "Unhandled"
