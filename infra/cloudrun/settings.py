"""Every environment variable the Cloud Run release commands read, in one place.

Built from a mapping so tests pass a dict; explicit values (flags) beat the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.cloudrun.exceptions import CloudRunError

PROJECT = "SLIPWAY_CLOUDRUN_PROJECT"
REGION = "SLIPWAY_CLOUDRUN_REGION"
SERVICE = "SLIPWAY_CLOUDRUN_SERVICE"
ENDPOINT = "SLIPWAY_CLOUDRUN_ENDPOINT"  # another Admin API endpoint (a test's fake), REST only
DEFAULT_REGION = "us-central1"
DEFAULT_SERVICE = "slipway"


@dataclass(frozen=True)
class Settings:
    project: str
    region: str = DEFAULT_REGION
    service: str = DEFAULT_SERVICE
    endpoint: str | None = None

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def name(self) -> str:
        return f"{self.parent}/services/{self.service}"

    @classmethod
    def from_mapping(
        cls,
        env: Mapping[str, str],
        *,
        project: str | None = None,
        region: str | None = None,
        service: str | None = None,
    ) -> Settings:
        found = project or env.get(PROJECT)
        if not found:
            raise CloudRunError(f"no Google Cloud project: pass --project or set {PROJECT}")
        return cls(
            project=found,
            region=region or env.get(REGION) or DEFAULT_REGION,
            service=service or env.get(SERVICE) or DEFAULT_SERVICE,
            endpoint=env.get(ENDPOINT) or None,
        )
