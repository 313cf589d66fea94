"""The container image's entrypoint: one image, two platforms.

With `AWS_LAMBDA_RUNTIME_API` set (Lambda, or `slipway serve --image`) it runs the real
runtime interface client on the handler named by the image's CMD, as Lambda's
`ImageConfig.Command` expects. Without it, it serves the same function over HTTP on
0.0.0.0:$PORT (default 8080), Cloud Run's container contract, until SIGTERM: the server
stops accepting, finishes the requests in flight (at most GRACE_S, under Cloud Run's 10 s)
and exits.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

DEFAULT_HANDLER = "functions.predict.handler.handler"
RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"
GRACE_S = 8  # Cloud Run sends SIGKILL 10 s after SIGTERM
WORKERS = "SLIPWAY_HTTP_WORKERS"


def lambda_mode(argv: Sequence[str]) -> None:
    handler = argv[0] if argv else DEFAULT_HANDLER
    # awslambdaric's own entry point, in this process: Lambda's init timer starts with it.
    sys.argv = ["awslambdaric", handler]
    from awslambdaric.__main__ import main

    main(sys.argv)


def workers(env: Mapping[str, str]) -> int:
    """One server process per CPU this container may use (SLIPWAY_HTTP_WORKERS overrides).

    Cloud Run gives an instance 1 to 8 vCPUs; a Python process uses one.
    """
    raw = env.get(WORKERS, "")
    if raw:
        return max(1, int(raw))
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:  # cgroup v2: "<quota> <period>" or "max …"
            quota, period = fh.read().split()
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


def http_mode(env: Mapping[str, str]) -> None:
    # granian, measured against uvicorn on this app (bench/): one Rust HTTP server per
    # process, and no shared-socket TCP_NODELAY loss across processes (Kludex/uvicorn#3149).
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from functions.predict.adapters.asgi import DEFAULT_PORT, PORT

    Granian(
        "functions.predict.adapters.asgi:from_environ",
        factory=True,  # each worker loads the model before it serves
        address="0.0.0.0",
        port=int(env.get(PORT) or DEFAULT_PORT),
        interface=Interfaces.ASGI,
        workers=workers(env),
        loop=Loops.uvloop,
        log_access=False,  # Cloud Run writes the request log itself
        workers_kill_timeout=GRACE_S,
    ).serve()


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    if env.get(RUNTIME_API):
        lambda_mode(argv)
    else:
        http_mode(env)


if __name__ == "__main__":
    main()
