"""`slipway build`: the Lambda artifacts (function zip + runtime layer zip) for a target.

    from infra.build import build, host_target
    result = build(host_target())          # build/3.11-x86_64/{function,layer}.zip

The same artifacts run on the local platform (built for the host) and on AWS (built for
python3.12 on arm64 or x86_64), so what runs locally is what ships.
"""

from __future__ import annotations

from infra.build.builder import BuildResult, build
from infra.build.platforms import BuildTarget, host_target

__all__ = ["BuildResult", "BuildTarget", "build", "host_target"]
