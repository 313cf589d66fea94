"""Every environment variable the AWS release commands read, in one place.

Region, profile and endpoint are boto3's own (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL);
Slipway adds the function name and where models live on S3. Built from a mapping so tests
pass a dict instead of monkeypatching the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FUNCTION = "SLIPWAY_FUNCTION"  # the Lambda function the release verbs act on
STAGE = "SLIPWAY_STAGE"  # serverless.yml's stage, used for the default function name
S3_STORE = "SLIPWAY_S3_STORE"  # s3://bucket/prefix the function reads models from
PROFILE = "AWS_PROFILE"
REGION = "AWS_REGION"

# serverless.yml: service `slipway`, function `predict`; Serverless names it service-stage-fn.
SERVICE = "slipway"
FUNCTION_KEY = "predict"
DEFAULT_STAGE = "dev"


def default_function_name(stage: str = DEFAULT_STAGE) -> str:
    return f"{SERVICE}-{stage}-{FUNCTION_KEY}"


@dataclass(frozen=True)
class Settings:
    function: str
    s3_store: str | None = None
    profile: str | None = None
    region: str | None = None

    @classmethod
    def from_mapping(
        cls, env: Mapping[str, str], *, function: str | None = None, s3_store: str | None = None
    ) -> Settings:
        """Explicit values (command-line flags) beat the environment, which beats defaults."""
        stage = env.get(STAGE) or DEFAULT_STAGE
        return cls(
            function=function or env.get(FUNCTION) or default_function_name(stage),
            s3_store=s3_store or env.get(S3_STORE) or None,
            profile=env.get(PROFILE) or None,
            region=env.get(REGION) or None,
        )
