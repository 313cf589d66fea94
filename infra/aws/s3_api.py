"""S3's calls a model push makes: whether an object is there, and writing one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from infra.aws.calls import Calls
from infra.aws.errors import NOT_FOUND, aws_errors, error_code

if TYPE_CHECKING:  # the stubs are a dev dependency: no import, and no cost, at run time
    from mypy_boto3_s3 import S3Client


class S3Api(Calls):
    _s3: S3Client | None

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            raise TypeError("this Aws was made without an S3 client: pass Aws(..., s3=...)")
        return self._s3

    def object_exists(self, bucket: str, key: str) -> bool:
        with aws_errors(f"HeadObject s3://{bucket}/{key}"):
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
                return True
            except ClientError as exc:
                if error_code(exc)[0] not in (*NOT_FOUND, "NotFound"):
                    raise
                return False

    def put_object(self, bucket: str, key: str, body: bytes, **extra: Any) -> None:
        self._call(
            f"PutObject s3://{bucket}/{key}",
            lambda: self.s3.put_object(Bucket=bucket, Key=key, Body=body, **extra),
        )
