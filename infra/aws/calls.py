"""How every AWS call is made: botocore's retries, Slipway's bounds on waiting, its errors.

Pagination, waiting for an update and retrying what AWS says is temporary are boto3's own:
paginators, the service's waiters, and botocore's retry modes (`retry_config`, used where the
clients are made). Every AWS error becomes a Slipway error saying what failed, why, and what
to do next. The service wrappers (`lambda_api`, `s3_api`, `cloudwatch_api`) make their calls
through `Calls`, with one `sleep` (tests pass one that records instead of waiting).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.waiter import Waiter

from infra.aws.errors import CONFLICT, error_code, failure

if TYPE_CHECKING:  # the stubs are a dev dependency: no import, and no cost, at run time
    from botocore.session import Session

R = TypeVar("R")
RetryMode = Literal["legacy", "standard", "adaptive"]

# botocore's retries for every call: exponential backoff with jitter and a retry quota, on
# throttling (TooManyRequestsException included) and transient errors (5xx, timeouts,
# connection errors). `standard`, the mode the AWS SDKs' guide recommends; `adaptive` adds
# client-side rate limiting that the guide keeps for specialised cases.
RETRY_MODE: Final[RetryMode] = "standard"
MAX_ATTEMPTS: Final = 5  # in all, the first included (botocore's total_max_attempts)


def retry_config(session: Session) -> Config:
    """Slipway's retry settings unless the user chose others: AWS_RETRY_MODE and
    AWS_MAX_ATTEMPTS, or retry_mode and max_attempts in the profile, still win."""
    mode: RetryMode = session.get_config_variable("retry_mode") or RETRY_MODE
    attempts: int = session.get_config_variable("max_attempts") or MAX_ATTEMPTS
    return Config(retries={"mode": mode, "total_max_attempts": attempts})


@dataclass(frozen=True)
class Waits:
    """Bounds on every wait: a stuck update ends with an error, never a hang."""

    update_polls: int = 150  # LastUpdateStatus InProgress: polls of `poll_s` after the first look
    poll_s: float = 2.0
    # A version is Pending while Lambda prepares it (a SnapStart snapshot takes minutes):
    # 26 min at `poll_s`, the bound of AWS's own published_version_active waiter.
    version_polls: int = 780
    conflict_retries: int = 8  # ResourceConflictException: retries of `backoff_s` (see _call)
    backoff_s: float = 5.0


def plain(response: Mapping[str, Any]) -> dict[str, Any]:
    """The stubs' TypedDict as the plain dict the release code reads (keys AWS may omit)."""
    return dict(response)


class Calls:
    def __init__(self, *, sleep: Callable[[float], None], waits: Waits) -> None:
        self.sleep = sleep
        self.waits = waits

    def _call(self, what: str, call: Callable[[], R], *, retry_conflict: bool = False) -> R:
        """`call()`, with AWS's errors as Slipway errors; botocore has retried what it can.

        `retry_conflict`: Lambda answers ResourceConflictException ("An update is in
        progress", or a function or version still Pending) to a write or invoke that races
        an update. The waiter before each write covers Slipway's own updates only: another
        deploy can start one between the wait and the write, and no waiter closes that gap.
        botocore's standard and adaptive modes do not retry this code (it is neither a
        throttling nor a transient error, and 409 is not a transient status), so these calls
        retry it a few times. CreateAlias does not: there the code means "already exists".
        """
        tries = 0
        while True:
            tries += 1
            try:
                return call()
            except (ClientError, BotoCoreError) as exc:
                again = retry_conflict and tries <= self.waits.conflict_retries
                if not (again and error_code(exc)[0] == CONFLICT):
                    raise failure(what, exc, tries=tries) from exc
            self.sleep(self.waits.backoff_s)

    def _write(self, what: str, call: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
        """A write that can race an update of the function: conflicts are retried (_call)."""
        return plain(self._call(what, call, retry_conflict=True))

    def _wait(
        self, waiter: Waiter, what: str, poll: Callable[[], Mapping[str, Any]], polls: int
    ) -> dict[str, Any]:
        """Run boto3's `waiter` (the service's own acceptors, Slipway's bound),
        polling with `poll`; returns the last answer. Raises WaiterError on Failed or when
        `polls` polls after the first look are used up.

        botocore's Waiter pauses with time.sleep and takes no sleep function, so the waiter is
        built from the service's model with Delay 0 and an operation that calls `self.sleep`
        before every poll but the first: the pacing is the injected sleep's, the rules are
        AWS's.
        """
        answers: list[dict[str, Any]] = []

        def operation(**_: Any) -> dict[str, Any]:
            if answers:
                self.sleep(self.waits.poll_s)
            answers.append(plain(self._call(what, poll)))
            return answers[-1]

        Waiter(waiter.name, waiter.config, operation).wait(
            WaiterConfig={"Delay": 0, "MaxAttempts": polls + 1}
        )
        return answers[-1]
