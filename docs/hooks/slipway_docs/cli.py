"""The CLI reference: every `slipway` command, walked from the argparse parser itself."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from slipway_docs import cell, table

WIDTH = "100"  # argparse wraps usage lines to $COLUMNS: a fixed width, the same on every machine


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]  # ("slipway", "alias", "set")
    parser: argparse.ArgumentParser
    help: str

    @property
    def name(self) -> str:
        return " ".join(self.words)

    @property
    def anchor(self) -> str:
        return "-".join(self.words)


@contextmanager
def _columns() -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ("slipway",)
) -> list[Command]:
    """Every command and subcommand under `parser`, depth first, in the parser's order."""
    out: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                command = Command((*words, name), sub, helps.get(name, ""))
                out.append(command)
                out.extend(commands(sub, command.words))
    return out


def _value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "`" + " \\| ".join(str(c) for c in action.choices) + "`"
    metavar = action.metavar or action.dest.upper()
    text = metavar if isinstance(metavar, str) else " ".join(metavar)
    if action.nargs == "?":
        text = f"[{text}]"
    elif action.nargs in ("*", "+"):
        text = f"{text} …"
    return f"`{cell(text)}`"


def _default(action: argparse.Action) -> str:
    default = action.default
    if default in (None, False, argparse.SUPPRESS) or action.nargs == 0 or default == []:
        return ""
    return f"`{cell(default)}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    formatter = parser._get_formatter()
    return cell(formatter._expand_help(action))  # %(default)s and friends, as --help shows them


def _options(command: Command) -> str:
    out = []
    for group in command.parser._action_groups:
        rows = []
        for action in group._group_actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            flag = ", ".join(action.option_strings) or (action.metavar or action.dest)
            required = " (required)" if action.required and action.option_strings else ""
            rows.append(
                (
                    f"`{flag}`{required}",
                    _value(action),
                    _default(action),
                    _help(command.parser, action),
                )
            )
        if rows:
            title = group.title or "options"
            out.append(f"**{title}**\n\n" + table(("argument", "value", "default", "what"), rows))
    return "\n".join(out)


def render(parser: argparse.ArgumentParser) -> str:
    """Markdown for every command: a summary table, then each command's usage and arguments."""
    with _columns():
        cmds = commands(parser)
        rows = [(f"[`{c.name}`](#{c.anchor})", cell(c.help)) for c in cmds]
        out = [table(("command", "what it does"), rows)]
        for c in cmds:
            out.append(f"## `{c.name}` {{#{c.anchor}}}\n")
            about = c.parser.description or c.help
            if about:
                out.append(cell(about) + "\n")
            out.append("```text\n" + c.parser.format_usage().strip() + "\n```\n")
            options = _options(c)
            if options:
                out.append(options)
            if c.parser.epilog:
                out.append("```text\n" + c.parser.epilog.strip() + "\n```\n")
    return "\n".join(out)


def slipway_parser() -> argparse.ArgumentParser:
    from infra.cli import parser

    built: argparse.ArgumentParser = parser()
    return built
