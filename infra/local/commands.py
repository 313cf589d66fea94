"""Release verbs for --target local (see infra/release_cli.py)."""

from __future__ import annotations

import argparse


def _todo(args: argparse.Namespace) -> int:
    raise SystemExit("the local platform's release verbs are being built (issue 4)")


publish = alias_set = rollback = status = _todo
