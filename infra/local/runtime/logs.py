"""Where a function's output goes: log events as CloudWatch Logs takes them, in one file.

An environment's output is split into events of at most 256 KB (`LogLines`), each written to
the function log (`FunctionLog`), as Lambda sends them to CloudWatch Logs.
"""

from __future__ import annotations

from pathlib import Path

# CloudWatch Logs takes events of up to 256 KB, 26 bytes of which are its own overhead; a
# longer line keeps its head and says how much was cut, so one log line never wedges anything.
MAX_LOG_EVENT_BYTES = 256 * 1024 - 26
_NOTE_ROOM = 200  # bytes kept free at the end of a cut event for the note


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


class FunctionLog:
    """Function output goes to a file, as it would go to CloudWatch Logs; close() ends it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "functions.log"
        self._fh = open(self.path, "a", buffering=1)  # noqa: SIM115 - closed by close()

    def __call__(self, line: str) -> None:
        if not self._fh.closed:  # an environment's last words after stop() are dropped
            self._fh.write(line + "\n")

    def close(self) -> None:
        self._fh.close()
