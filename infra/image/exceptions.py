"""Errors of the container image commands: each says what went wrong and what to do."""

from __future__ import annotations


class ImageError(Exception):
    """Raise when an image command cannot do what was asked; the message says why."""


class PushError(ImageError):
    """Raise when an OCI archive cannot be pushed: a bad archive or reference, no push tool,
    a failed registry login, or the tool's own failure (its output's tail is in the message)."""
