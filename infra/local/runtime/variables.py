"""The environment variables Lambda sets for a function: a Python runtime's, or an image's."""

from __future__ import annotations

import os
import sys
import time
import uuid

from infra.local.state.store import Version

REGION = "us-east-1"
ACCOUNT = "123456789012"

# What Lambda sets for a container image function (the image's own ENV supplies PATH,
# PYTHONPATH and the rest), and where a host directory the version names is mounted.
IMAGE_TASK_ROOT = "/var/task"
IMAGE_VARS: tuple[str, ...] = (
    "TZ",
    "_HANDLER",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
)
IMAGE_VARS += ("AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
IMAGE_VARS += ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME")
IMAGE_VARS += ("AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_REGION", "AWS_DEFAULT_REGION")


def lambda_environment(
    function: str, version: Version, runtime_api: str, runtime_dir: str
) -> dict[str, str]:
    """The variables Lambda sets for a Python runtime, then the function's own."""
    task_root = version.code[0]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join([*version.code, runtime_dir]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "_HANDLER": version.handler,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": str(version.number),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/")
        + f"[{version.number}]{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    env.update(version.env)
    return env


def image_environment(function: str, version: Version, runtime_api: str) -> dict[str, str]:
    base = lambda_environment(function, version, runtime_api, runtime_dir="")
    env = {key: base[key] for key in IMAGE_VARS}
    env["LAMBDA_TASK_ROOT"] = IMAGE_TASK_ROOT
    env["AWS_EXECUTION_ENV"] = "AWS_Lambda_Image"
    env.update(version.env)
    return env


def function_arn(function: str, version: int) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:{version}"
