"""The reference pages' generated parts, made from the code when the site is built.

Each generator returns Markdown; docs/hooks/reference.py puts it where a page says
`<!-- reference: NAME -->`. Nothing generated is committed, so it cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def cell(text: object) -> str:
    """Text for a Markdown table cell: one line, pipes and angle brackets escaped."""
    out = " ".join(str(text).split())
    return out.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
