"""Errors of the load-test command."""

from __future__ import annotations


class LoadTestError(Exception):
    """Base class: raise when a load test cannot be set up, run or reported."""


class PayloadError(LoadTestError):
    """Raise when no request body can be made from the model's manifest."""


class ManifestFetchError(LoadTestError):
    """Raise when the endpoint's GET /model does not give a manifest."""


class LocustRunError(LoadTestError):
    """Raise when the Locust process fails or records no request."""
