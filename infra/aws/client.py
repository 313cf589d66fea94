"""The one typed wrapper around boto3 that the release commands use.

One object over the three services' clients, with one `sleep` (tests pass one that records
instead of waiting) and one set of bounds: Lambda's calls (`lambda_api`), S3's (`s3_api`) and
CloudWatch's (`cloudwatch_api`), each made as `calls` says (botocore's retries and waiters,
AWS's errors as Slipway's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from infra.aws.calls import Waits
from infra.aws.cloudwatch_api import CloudWatchApi
from infra.aws.lambda_api import LambdaApi
from infra.aws.s3_api import S3Api

if TYPE_CHECKING:  # the stubs are a dev dependency: no import, and no cost, at run time
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

WAITS = Waits()  # the default bounds


class Aws(LambdaApi, S3Api, CloudWatchApi):
    """Lambda, S3 and CloudWatch calls in the shapes the release commands need."""

    def __init__(
        self,
        lambda_client: LambdaClient,
        *,
        s3: S3Client | None = None,
        cloudwatch: CloudWatchClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        waits: Waits = WAITS,
    ) -> None:
        super().__init__(sleep=sleep, waits=waits)
        self.lam = lambda_client
        self._s3 = s3
        self._cloudwatch = cloudwatch
