"""What a Lambda version pins besides its model, in the engine's terms (`Pins`).

A published version freezes $LATEST's code and configuration: the fields below (and the model,
which the engine compares by name@version and sha256) decide what it serves. The model's two
variables are left out of the environment, and so is what differs between $LATEST and a
version copied from it (ARN, Version, RevisionId, LastModified, State, the description Slipway
writes, SnapStart's optimization status, the runtime's patch version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.predict.config import MODEL, MODEL_SHA256
from infra.release.model import Pins, pins_of


def pins(config: Mapping[str, Any], variables: Mapping[str, str] | None = None) -> Pins:
    """The pins of a function configuration (GetFunctionConfiguration's fields); with
    `variables`, of the version published from it once its environment is those."""
    env = (
        variables
        if variables is not None
        else (config.get("Environment") or {}).get("Variables") or {}
    )
    env = {k: v for k, v in env.items() if k not in (MODEL, MODEL_SHA256)}
    return pins_of(
        {
            "code": config.get("CodeSha256", ""),
            "package": config.get("PackageType") or "Zip",
            "runtime": config.get("Runtime", ""),
            "handler": config.get("Handler", ""),
            "memory": config.get("MemorySize", ""),
            "timeout": config.get("Timeout", ""),
            "environment": sorted(env.items()),
            "layers": [layer.get("Arn", "") for layer in config.get("Layers") or []],
            "architectures": list(config.get("Architectures") or []),
            "ephemeral": (config.get("EphemeralStorage") or {}).get("Size", ""),
            "tracing": (config.get("TracingConfig") or {}).get("Mode", ""),
            "vpc": sorted(
                (k, sorted(v) if isinstance(v, list) else v)
                for k, v in (config.get("VpcConfig") or {}).items()
                if k in ("SubnetIds", "SecurityGroupIds")
            ),
            "dead_letter": (config.get("DeadLetterConfig") or {}).get("TargetArn", ""),
            "file_systems": [f.get("Arn", "") for f in config.get("FileSystemConfigs") or []],
            "image_config": (config.get("ImageConfigResponse") or {}).get("ImageConfig", {}),
            "snap_start": (config.get("SnapStart") or {}).get("ApplyOn", ""),
            "logging": config.get("LoggingConfig") or {},
            "kms": config.get("KMSKeyArn", ""),
            "role": config.get("Role", ""),
        }
    )
