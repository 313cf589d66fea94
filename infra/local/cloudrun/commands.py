"""`--target local-cloudrun` for the release verbs: the platform from the flags.

Its state lives in `cloudrun/` under the local state directory (--state, $SLIPWAY_STATE_DIR
or ./.slipway), the directory `slipway serve --platform cloudrun` serves.
"""

from __future__ import annotations

import argparse

from infra.dirs import state_dir, store_dir
from infra.local.cloudrun.platform import LocalCloudRunPlatform, root_of


def platform(args: argparse.Namespace) -> LocalCloudRunPlatform:
    return LocalCloudRunPlatform(
        root_of(state_dir(args.state)),
        store=store_dir(getattr(args, "source_store", None)),
        image=getattr(args, "image_uri", None),
    )
