"""Turn AWS's error responses into Slipway errors that say what failed, why, and what next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from infra.aws.exceptions import AwsCallError, AwsReleaseError, Conflict, NotFound, UpdateInProgress

# Lambda says "try again later" with these; everything else is final.
RETRYABLE = ("ResourceConflictException", "TooManyRequestsException")
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


def translate(what: str, exc: Exception, *, tries: int = 1) -> AwsReleaseError:
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
    if code in RETRYABLE:
        return UpdateInProgress(
            f"{why}. Still busy after {tries} tries; wait for the other update to finish "
            "(`aws lambda get-function-configuration --query LastUpdateStatus`) and run again"
        )
    if code in CREDENTIALS:
        return AwsCallError(f"{why}. Check your credentials (AWS_PROFILE) and their permissions")
    return AwsCallError(f"{why}. Fix the cause above and run the command again")


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """For boto3 calls made by other packages (the S3 model store): same messages."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise translate(what, exc) from exc
    except BotoCoreError as exc:
        raise AwsCallError(
            f"{what} failed: {exc}. Check AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL"
        ) from exc
