"""Bounded quotes of what a client sent: the one rule every message that echoes a client uses.

Below everything else in the function (no project imports), so the event sources, the body
forms and the error bodies can all use it.
"""

from __future__ import annotations

# A message may quote the client's input (field names, onnxruntime's text): keep bodies small.
MAX_MESSAGE_CHARS = 1000
# Each quote of the client's input (field names, a Content-Type, a path) is cut at the source to
# this many characters, so one message (and its log line) stays small whatever the client sent.
QUOTE_CHARS = 200


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` cut to at most `limit` characters, saying how many were cut.

    The one rule for bounding text that echoes a client: validation's quotes use QUOTE_CHARS,
    error bodies apply it to the whole message with MAX_MESSAGE_CHARS.
    """
    if len(text) <= limit:
        return text
    keep = limit
    while True:  # the note's length depends on the count it gives: settle both
        note = f"… ({len(text) - keep:,} more characters)".replace(",", " ")
        if keep + len(note) <= limit or keep == 0:
            return text[:keep] + note
        keep = max(0, limit - len(note))


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """repr() of a value from the client (a key, a list of names), bounded by `clip`."""
    return clip(repr(value), limit)
