"""One execution environment: a process running the real runtime interface client.

Like Lambda's: it runs one invocation at a time, is reused while warm, sees only its
function's code and layers (`python -S`, so no virtualenv site-packages), and is killed
and not reused after a timeout or a crash. A version published from a container image
(`slipway serve --image`) runs each environment as a container of it instead (`container`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from aiohttp import web

from infra.image.podman import Podman
from infra.local.exceptions import FunctionError, FunctionTimeout, InitFailed, RuntimeCrashed
from infra.local.runtime import procfs
from infra.local.runtime.api import Invocation, RuntimeAPI
from infra.local.runtime.container import Container
from infra.local.runtime.logs import MAX_LOG_EVENT_BYTES, LogLines
from infra.local.runtime.report import Report
from infra.local.runtime.variables import function_arn, lambda_environment
from infra.local.state.store import Version

T = TypeVar("T")

INIT_WALL_CAP_S = 60.0  # an init slowed by a crowded machine still ends
_READ_CHUNK = 64 * 1024


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
        self._container = (
            Container(engine, function, version, self.id) if version.image and engine else None
        )
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
        cwd: str | None = None  # a container's is the image's
        if self.version.image:
            if self._container is None:
                raise InitFailed(f"{self.function}:{self.version.number} is an image: no engine")
            argv, env = self._container.command(api)
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
                self._pid_task = self._keep(self._container.find_pid())
            return
        ready.cancel()
        await self.kill()
        raise InitFailed(self._init_failure(timed_out=not done))

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
        return procfs.runqueue_wait_s(self._proc.pid) if self._proc is not None else 0.0

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
            function_arn=function_arn(self.function, self.version.number),
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
        report = Report.of(
            request_id,
            self.version.number,
            duration,
            memory_mb=self.version.memory_mb,
            max_memory_mb=self.max_memory_mb(),
            init_ms=init_ms,
        )
        if kind == "error":
            raise FunctionError(_error_message(body), error_type=error_type or "Unhandled")
        return kind, body, error_type, report

    def max_memory_mb(self) -> int:
        """Peak memory of the runtime, as Lambda's Max Memory Used."""
        if self._proc is None:
            return 0
        if self._container is not None:
            return self._container.peak_memory_mb()
        return procfs.peak_memory_mb(self._proc.pid)

    async def kill(self) -> None:
        self.dead = True
        if self._container is not None:
            # Killing `podman run` would leave the container running: remove it by name.
            await self._container.remove()
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
