"""`--target local` for the release verbs: the platform from the flags.

The verbs themselves are the engine's (`infra.release.verbs`); `infra.release_cli` imports this
module when a verb runs with `--target local`.
"""

from __future__ import annotations

import argparse

from infra.dirs import state_dir, store_dir
from infra.local.platform.release import LocalReleasePlatform


def platform(args: argparse.Namespace) -> LocalReleasePlatform:
    return LocalReleasePlatform(
        state_dir(args.state),
        store=store_dir(getattr(args, "source_store", None)),
        image=getattr(args, "image_uri", None),
    )
