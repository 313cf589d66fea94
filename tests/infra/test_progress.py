"""infra/progress.py: plain timestamped lines in CI, rich bars on a terminal, both on stderr."""

from __future__ import annotations

import io
import re

import pytest

from infra import progress

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


def test_ci_true_or_no_tty_or_dumb_means_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a TTY
    monkeypatch.delenv("CI", raising=False)
    assert progress.plain()

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv(progress.PLAIN_ENV, raising=False)
    assert not progress.plain()
    for name, value in (("CI", "true"), ("TERM", "dumb"), (progress.PLAIN_ENV, "plain")):
        monkeypatch.setenv(name, value)
        assert progress.plain()
        monkeypatch.delenv(name)
    monkeypatch.setenv("TERM", "xterm")
    assert not progress.plain()


def test_plain_lines_are_timestamped_on_stderr_and_throttled(
    ci: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])

    def at(t: float, done: float, note: str) -> None:
        now[0] = t
        window.update(done, note)

    with progress.task("watching", total=30, unit="s") as window:
        at(1, 1, "no errors")  # the first update is said
        at(2, 2, "no errors")  # 1 s later, nothing new: not said
        at(3, 3, "signal fired")  # a new note is said at once
        at(4, 4, "signal fired")  # not said
        at(20, 20, "signal fired")  # 10 s since the last line: said
        at(22, 30, "signal fired")  # the end is always said
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert all(re.match(STAMP, ln) for ln in lines), lines
    said = [ln.split(" ", 1)[1] for ln in lines]
    assert said == [
        "watching: started (30 s)",
        "watching: 29 s left (no errors)",
        "watching: 27 s left (signal fired)",
        "watching: 10 s left (signal fired)",
        "watching: 0 s left (signal fired)",
        "watching: finished in 22.0 s",
    ]


def test_amounts_in_bytes_and_counts(ci: None, capsys: pytest.CaptureFixture[str]) -> None:
    with progress.task("upload", total=3 * 1024 * 1024, unit="bytes") as up:
        up.update(3 * 1024 * 1024, "verified")
    with progress.task("pip", total=4) as packages:
        packages.advance(note="numpy==2.4.6")
    err = capsys.readouterr().err
    assert "upload: started (3.0 MiB)" in err and "upload: 3.0 MiB of 3.0 MiB (verified)" in err
    assert "pip: 1 of 4 (numpy==2.4.6)" in err
    assert progress.amount(512, "bytes") == "512 B" and progress.amount(2048, "bytes") == "2.0 KiB"
    with pytest.raises(ValueError, match="unit 'm'"):
        progress.Task("x", 1, "m")


def test_a_terminal_gets_a_rich_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(progress, "plain", lambda: False)
    screen = io.StringIO()
    monkeypatch.setattr(progress, "_CONSOLE", Console(file=screen, force_terminal=True, width=100))
    with progress.task("step 1/2: watching", total=10, unit="s") as window:
        window.update(4, "no errors")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "step 1/2: watching" in text and "6 s left" in text and "no errors" in text
