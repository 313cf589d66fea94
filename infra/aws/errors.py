"""Turn AWS's error responses into Slipway errors that say what failed, why, and what next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from infra.aws.exceptions import AwsCallError, Conflict, NotFound, UpdateInProgress
from infra.release.exceptions import ReleaseError

# Lambda's "an update is in progress" (or "already exists", on CreateAlias). botocore does
# not retry it; Calls._call does, on the calls where it means "busy".
CONFLICT = "ResourceConflictException"
# botocore's retry modes retry these (with backoff) before Slipway sees one.
THROTTLED = ("TooManyRequestsException", "ThrottlingException", "Throttling")
NOT_FOUND = ("ResourceNotFoundException", "NoSuchBucket", "NoSuchKey", "404", "ResourceNotFound")
CREDENTIALS = (
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "AccessDeniedException",
    "AccessDenied",
    "InvalidSignatureException",
)
STATUS_HINT = "run `slipway status --target aws` to see the current state"


def error_code(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", {}) or {}
    err = response.get("Error", {})
    return str(err.get("Code", "")), str(err.get("Message", ""))


def translate(what: str, exc: Exception, *, tries: int = 1) -> ReleaseError:
    """A Slipway error for a failed call: what, AWS's reason, and the next step."""
    code, message = error_code(exc)
    why = f"{what} failed: {code}: {message}".rstrip(": ")
    if code in NOT_FOUND:
        return NotFound(f"{why}. Check the name, AWS_REGION and AWS_ENDPOINT_URL")
    if code == "PreconditionFailedException":
        return Conflict(
            f"{why}. Someone else changed it since Slipway read it; {STATUS_HINT}, "
            "then run the command again"
        )
    if code == "InvalidParameterValueException" and "CodeSHA256" in message:
        return Conflict(
            f"{why}. The function's code changed since Slipway read it (another deploy?); "
            f"{STATUS_HINT}, then run the command again"
        )
    if code == CONFLICT and "already exists" in message:
        return Conflict(
            f"{why}. Someone else created it since Slipway read it; {STATUS_HINT}, "
            "then run the command again"
        )
    if code == CONFLICT:
        return UpdateInProgress(
            f"{why}. Still busy after {tries} tries; wait for the other update to finish "
            "(`aws lambda get-function-configuration --query LastUpdateStatus`) and run again"
        )
    if code in THROTTLED:
        attempts = 1 + int(
            getattr(exc, "response", {}).get("ResponseMetadata", {}).get("RetryAttempts", 0)
        )
        return AwsCallError(
            f"{why}. AWS still throttled the call after {attempts} attempts (botocore's "
            "retries); wait a minute and run again, or allow more with AWS_MAX_ATTEMPTS"
        )
    if code in CREDENTIALS:
        return AwsCallError(f"{why}. Check your credentials (AWS_PROFILE) and their permissions")
    return AwsCallError(f"{why}. Fix the cause above and run the command again")


def failure(what: str, exc: Exception, *, tries: int = 1) -> ReleaseError:
    """`translate` for AWS's answers; for botocore's own errors (no answer), where to look."""
    if getattr(exc, "response", None) is not None:
        return translate(what, exc, tries=tries)
    return AwsCallError(f"{what} failed: {exc}. Check AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL")


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Around boto3 calls (here and in other packages, the S3 model store): same messages."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise failure(what, exc) from exc
