"""One execution environment: a process running the real runtime interface client.

Like Lambda's: it runs one invocation at a time, is reused while warm, sees only its
function's code and layers (`python -S`, so no virtualenv site-packages), and is killed
and not reused after a timeout or a crash. A version published from a container image
(`slipway serve --image`) runs each environment as a container of it instead, with Lambda's
limits: read-only root, /tmp only, the version's memory, a non-root user, Lambda's variables.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from infra.local.exceptions import FunctionError, FunctionTimeout, InitFailed, RuntimeCrashed
from infra.local.runtime_api import Invocation, RuntimeAPI
from infra.local.state import Version

if TYPE_CHECKING:
    from infra.image.podman import Podman

T = TypeVar("T")

REGION = "us-east-1"
INIT_WALL_CAP_S = 60.0  # an init slowed by a crowded machine still ends
ACCOUNT = "123456789012"
# CloudWatch Logs takes events of up to 256 KB, 26 bytes of which are its own overhead; a
# longer line keeps its head and says how much was cut, so one log line never wedges anything.
MAX_LOG_EVENT_BYTES = 256 * 1024 - 26
_NOTE_ROOM = 200  # bytes kept free at the end of a cut event for the note
_READ_CHUNK = 64 * 1024


class LogLines:
    """Split a runtime's output into log events of at most `limit` bytes (UTF-8).

    Fed in chunks of any size: memory stays under `limit` per environment however long a
    line is, and the pipe is drained whatever the function writes.
    """

    def __init__(self, limit: int = MAX_LOG_EVENT_BYTES) -> None:
        if limit <= _NOTE_ROOM:
            raise ValueError(f"a log event limit must exceed {_NOTE_ROOM} bytes")
        self.limit = limit
        self._head = bytearray()
        self._dropped = 0

    def feed(self, data: bytes) -> list[str]:
        """The events that `data` completes."""
        events: list[str] = []
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self._add(data[start:end])
            events.append(self._take())
            start = end + 1
        self._add(data[start:])
        return events

    def flush(self) -> list[str]:
        """At end of output: the last line, if it had no newline."""
        return [self._take()] if self._head or self._dropped else []

    def _add(self, part: bytes) -> None:
        room = self.limit - _NOTE_ROOM - len(self._head)
        self._head += part[:room]
        self._dropped += max(0, len(part) - room)

    def _take(self) -> str:
        head, dropped = bytes(self._head), self._dropped
        total = len(head) + dropped
        self._head.clear()
        self._dropped = 0
        text = head.decode(errors="replace").rstrip()
        encoded = text.encode()
        cap = self.limit - _NOTE_ROOM
        if len(encoded) > cap:  # replacement characters take more bytes than what they replace
            text = encoded[:cap].decode(errors="ignore")
            dropped = total - len(text.encode())
        if dropped:
            text += (
                f" [truncated: this line was {total} bytes, {dropped} cut; "
                f"a log event holds {self.limit} bytes, as CloudWatch Logs' 256 KB]"
            )
        return text


@dataclass(frozen=True)
class Report:
    """What Lambda's REPORT line says about one invocation."""

    request_id: str
    version: int
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None

    def line(self) -> str:
        init = f"\tInit Duration: {self.init_ms:.2f} ms" if self.init_ms is not None else ""
        return (
            f"REPORT RequestId: {self.request_id}\tVersion: {self.version}\t"
            f"Duration: {self.duration_ms:.2f} ms\tBilled Duration: {self.billed_ms} ms\t"
            f"Memory Size: {self.memory_mb} MB\tMax Memory Used: {self.max_memory_mb} MB{init}"
        )


def lambda_environment(
    function: str, version: Version, runtime_api: str, runtime_dir: str
) -> dict[str, str]:
    """The variables Lambda sets for a Python runtime, then the function's own."""
    task_root = version.code[0]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join([*version.code, runtime_dir]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "_HANDLER": version.handler,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": str(version.number),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/")
        + f"[{version.number}]{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    env.update(version.env)
    return env


# What Lambda sets for a container image function (the image's own ENV supplies PATH,
# PYTHONPATH and the rest), and where a host directory the version names is mounted.
IMAGE_TASK_ROOT = "/var/task"
IMAGE_VARS: tuple[str, ...] = (
    "TZ",
    "_HANDLER",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
)
IMAGE_VARS += ("AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
IMAGE_VARS += ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME")
IMAGE_VARS += ("AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_REGION", "AWS_DEFAULT_REGION")


def image_environment(function: str, version: Version, runtime_api: str) -> dict[str, str]:
    base = lambda_environment(function, version, runtime_api, runtime_dir="")
    env = {key: base[key] for key in IMAGE_VARS}
    env["LAMBDA_TASK_ROOT"] = IMAGE_TASK_ROOT
    env["AWS_EXECUTION_ENV"] = "AWS_Lambda_Image"
    env.update(version.env)
    return env


class Environment:
    def __init__(
        self,
        function: str,
        version: Version,
        *,
        runtime_dir: str,
        log: Callable[[str], None],
        python: str = sys.executable,
        engine: Podman | None = None,
    ) -> None:
        self.function = function
        self.version = version
        self.id = uuid.uuid4().hex[:8]
        self._runtime_dir = runtime_dir
        self._python = python
        self._engine = engine
        # The container's name when the version is an image: podman rm -f needs it.
        self._container = (
            f"slipway-{function}-{version.number}-{self.id}" if version.image else None
        )
        self._container_pid: int | None = None
        self._pid_task: asyncio.Task[None] | None = None
        self._log = log
        self._ready = asyncio.Event()
        self._init_error: tuple[bytes, str | None] | None = None
        self._api = RuntimeAPI(self._ready.set, self._record_init_error)
        self._runner: web.AppRunner | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # kept, and ended by kill()
        self._pump_task: asyncio.Task[None] | None = None
        self._exit_task: asyncio.Task[None] | None = None
        self._current: Invocation | None = None
        self.busy = False
        self.dead = False
        self.retire = False  # finish the current invocation, then go
        self.init_ms: float | None = None
        self._init_reported = False
        self.last_used = time.monotonic()

    def _record_init_error(self, body: bytes, error_type: str | None) -> None:
        self._init_error = (body, error_type)

    async def start(self, init_timeout_s: float = 10.0) -> None:
        """Start the Runtime API and the runtime; return when init is done (raise InitFailed)."""
        # handler_cancellation: a dead runtime's pending long poll must not hold up cleanup.
        self._runner = web.AppRunner(
            self._api.app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await self._runner.setup()
        # The socket is bound here, so its port is known without aiohttp's private attributes.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            raise
        api = f"127.0.0.1:{port}"
        started = time.perf_counter()
        if self._container is not None:
            argv, env, cwd = self._container_command(api)
        else:
            env = lambda_environment(self.function, self.version, api, self._runtime_dir)
            argv = [self._python, "-S", "-m", "awslambdaric", self.version.handler]
            cwd = self.version.code[0]
        self._proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        self._pump_task = self._keep(self._pump(self._proc))
        self._exit_task = exited = self._keep(self._watch(self._proc))
        ready = self._keep(self._ready.wait())
        done = await self._init_wait({exited, ready}, init_timeout_s)
        if ready in done:
            self.init_ms = (time.perf_counter() - started) * 1000
            if self._container is not None:  # its pid, for the cgroup: off the request's path
                self._pid_task = self._keep(self._find_container_pid())
            return
        ready.cancel()
        await self.kill()
        raise InitFailed(self._init_failure(timed_out=not done))

    def _container_command(self, api: str) -> tuple[list[str], dict[str, str], str | None]:
        from infra.image.podman import RunSpec

        if self._engine is None or self.version.image is None or self._container is None:
            raise InitFailed(f"{self.function}:{self.version.number} is an image: no engine")
        spec = RunSpec(
            image=self.version.image,
            name=self._container,
            args=(self.version.handler,),  # the image's CMD, as ImageConfig.Command overrides it
            env=image_environment(self.function, self.version, api),
            memory_mb=self.version.memory_mb,
            mounts=tuple((path, path) for path in self.version.code),  # e.g. the model store
        )
        return self._engine.run_command(spec), self._engine.environ(), None

    async def _init_wait(
        self, tasks: set[asyncio.Task[Any]], timeout_s: float
    ) -> set[asyncio.Task[Any]]:
        """Wait for init as Lambda's init limit counts it: elapsed time, less the time the
        runtime spent waiting for a core. On Lambda each environment has its own CPU; here
        they share this machine's, and a burst of cold starts on two cores would otherwise
        time out inits that Lambda finishes. A sleeping or hung init still times out."""
        started = time.monotonic()
        waited0 = self._runqueue_wait_s()
        while True:
            done, _ = await asyncio.wait(
                tasks, timeout=min(0.5, timeout_s), return_when=asyncio.FIRST_COMPLETED
            )
            if done:
                return done
            wall = time.monotonic() - started
            if wall - (self._runqueue_wait_s() - waited0) >= timeout_s or wall >= INIT_WALL_CAP_S:
                return set()

    def _runqueue_wait_s(self) -> float:
        """Seconds the runtime's main thread waited for a CPU (/proc/PID/schedstat)."""
        if self._proc is None:
            return 0.0
        try:
            with open(f"/proc/{self._proc.pid}/schedstat", "rb") as fh:
                return int(fh.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0  # no schedstat: plain elapsed time, as on Lambda

    def _init_failure(self, *, timed_out: bool) -> str:
        where = f"{self.function}:{self.version.number}"
        if self._init_error is not None:
            body, error_type = self._init_error
            try:
                message = json.loads(body).get("errorMessage", "")
            except (ValueError, AttributeError):
                message = body.decode(errors="replace")
            return f"init of {where} failed ({error_type or 'Runtime.InitError'}): {message}"
        if timed_out:
            return f"init of {where} did not finish in time"
        code = self._proc.returncode if self._proc else None
        return f"init of {where} failed: the runtime exited with code {code}; see the function log"

    def _keep(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        # The loop holds tasks weakly: without a reference one can vanish mid-run.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _pump(self, proc: asyncio.subprocess.Process) -> None:
        """Drain the runtime's output into the log, in chunks: a line of any length is fine."""
        assert proc.stdout is not None
        prefix = f"[{self.function}:{self.version.number} {self.id}] "
        lines = LogLines(MAX_LOG_EVENT_BYTES - len(prefix.encode()))
        while chunk := await proc.stdout.read(_READ_CHUNK):
            for event in lines.feed(chunk):
                self._write(prefix + event)
        for event in lines.flush():
            self._write(prefix + event)

    def _write(self, line: str) -> None:
        try:
            self._log(line)
        except (OSError, ValueError) as exc:  # a failing log must not stop the draining
            print(f"slipway: the function log failed: {exc!r}", file=sys.stderr)

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        await proc.wait()
        await self._on_exit()

    async def _on_exit(self) -> None:
        self.dead = True
        inv = self._current
        if inv is not None and not inv.outcome.done():
            code = self._proc.returncode if self._proc else None
            inv.outcome.set_exception(
                RuntimeCrashed(
                    f"the runtime of {self.function}:{self.version.number} exited with code {code} during the invocation"
                )
            )
        await self._close_api()

    async def invoke(
        self, payload: bytes, trace_id: str = ""
    ) -> tuple[str, bytes, str | None, Report]:
        """Run one invocation; return (kind, body, error type, report)."""
        request_id = str(uuid.uuid4())
        timeout = self.version.timeout_s
        start = time.perf_counter()
        inv = Invocation(
            request_id=request_id,
            payload=payload,
            deadline_ms=int((time.time() + timeout) * 1000),
            function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function}:{self.version.number}",
            trace_id=trace_id or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
        )
        self._current = inv
        try:
            await self._api.submit(inv)
            kind, body, error_type = await asyncio.wait_for(asyncio.shield(inv.outcome), timeout)
        except TimeoutError:
            await self.kill()
            raise FunctionTimeout(
                f"{self.function}:{self.version.number} timed out after {timeout:g} s; the environment was replaced"
            ) from None
        finally:
            self._api.forget(request_id)
            self._current = None
            self.last_used = time.monotonic()
        duration = (time.perf_counter() - start) * 1000
        if self._pid_task is not None and not self._pid_task.done():  # the first invocation
            await asyncio.wait({self._pid_task}, timeout=2.0)
        init_ms = None if self._init_reported else self.init_ms
        self._init_reported = True
        report = Report(
            request_id=request_id,
            version=self.version.number,
            duration_ms=duration,
            billed_ms=max(1, math.ceil(duration)),
            memory_mb=self.version.memory_mb,
            max_memory_mb=self.max_memory_mb(),
            init_ms=init_ms,
        )
        if kind == "error":
            raise FunctionError(_error_message(body), error_type=error_type or "Unhandled")
        return kind, body, error_type, report

    def max_memory_mb(self) -> int:
        """Peak resident memory of the runtime process, as Lambda's Max Memory Used."""
        if self._proc is None:
            return 0
        if self._container is not None:
            return self._container_peak_mb()
        try:
            with open(f"/proc/{self._proc.pid}/status", "rb") as fh:
                status = fh.read()
        except OSError:
            return 0
        start = status.find(b"VmHWM:")
        if start < 0:
            return 0
        kib = int(status[start + 6 : status.index(b"kB", start)])
        return math.ceil(kib / 1024)

    async def _find_container_pid(self) -> None:
        if self._engine is not None and self._container is not None:
            self._container_pid = await asyncio.to_thread(self._engine.pid, self._container)

    def _container_peak_mb(self) -> int:
        """The container's cgroup peak: everything in it, as Lambda counts an image's memory."""
        from infra.image.podman import cgroup_peak_mb

        return cgroup_peak_mb(self._container_pid) if self._container_pid else 0

    async def kill(self) -> None:
        self.dead = True
        if self._container is not None and self._engine is not None:
            # Killing `podman run` would leave the container running: remove it by name.
            await asyncio.to_thread(self._engine.remove, self._container)
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        # The pump ends at end of output, and the exit watch once it has failed the current
        # invocation; each gets a moment (a child the function left holding the pipe open
        # must not hold up the kill), then whatever is left is cancelled.
        for task in (self._pump_task, self._exit_task):
            if task is not None:
                await asyncio.wait({task}, timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_api()

    async def _close_api(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def _error_message(body: bytes) -> str:
    try:
        data: Mapping[str, Any] = json.loads(body)
        return f"{data.get('errorType', 'Error')}: {data.get('errorMessage', '')}"
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:500]
