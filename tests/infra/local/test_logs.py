"""How a runtime's output becomes log events: any line length, bounded events."""

from __future__ import annotations

from infra.local.runtime.logs import MAX_LOG_EVENT_BYTES, LogLines


def test_lines_split_across_chunks_are_joined() -> None:
    lines = LogLines()
    assert lines.feed(b"one\ntw") == ["one"]
    assert lines.feed(b"o\r\nthr") == ["two"]
    assert lines.flush() == ["thr"] and lines.flush() == []


def test_a_line_over_the_limit_keeps_its_head_and_says_what_was_cut() -> None:
    lines = LogLines(1000)
    events = [e for _ in range(50) for e in lines.feed(b"k" * 100)] + lines.feed(b"\nnext\n")
    assert len(events) == 2 and events[1] == "next"
    assert len(events[0].encode()) <= 1000 and events[0].startswith("k" * 700)
    assert "this line was 5000 bytes" in events[0] and "cut" in events[0]


def test_cut_events_stay_bounded_when_bytes_are_not_utf8() -> None:
    lines = LogLines(1000)
    (event,) = lines.feed(b"\xff" * 5000 + b"\n")  # each becomes a 3-byte replacement char
    assert len(event.encode()) <= 1000 and "this line was 5000 bytes" in event


def test_the_default_limit_is_cloudwatch_logs_event_size() -> None:
    (event,) = LogLines().feed(b"k" * 2 * 1024 * 1024 + b"\n")
    assert len(event.encode()) <= MAX_LOG_EVENT_BYTES == 256 * 1024 - 26
