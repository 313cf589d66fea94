"""Lambda entry point: `functions/predict/handler.handler`.

The model is loaded here, at import, which Lambda runs once per execution environment
during init. If loading fails the import fails, so the environment reports an init error
and never serves with a half-loaded model.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from functions.predict.runtime import build

if TYPE_CHECKING:
    # The typed context Lambda passes (mangum ships it as a Protocol); never imported at run time.
    from mangum.types import LambdaContext

function = build(os.environ)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return function(event, context)
