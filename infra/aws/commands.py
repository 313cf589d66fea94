"""The release verbs for `--target aws` (see infra/release/verbs.py).

The verbs themselves are the engine's; this module connects to AWS and builds the platform.
Region, profile and endpoint are boto3's usual settings. Tests pass `aws` (a wrapper around
moto or Stubber clients) instead of connecting.
"""

from __future__ import annotations

import argparse
import os

import boto3
import botocore.session

from infra.aws.calls import retry_config
from infra.aws.client import Aws
from infra.aws.errors import aws_errors
from infra.aws.platform import AwsReleasePlatform
from infra.aws.publish import CodeChange
from infra.aws.settings import Settings
from model_store.backends import open_store


def connect(settings: Settings) -> Aws:
    with aws_errors("connecting to AWS"):
        # A botocore session of our own: retry_config reads the user's retry settings from it.
        core = botocore.session.Session(profile=settings.profile)
        session = boto3.session.Session(botocore_session=core, region_name=settings.region)
        config = retry_config(core)
        return Aws(
            session.client("lambda", config=config),
            s3=session.client("s3", config=config),
            cloudwatch=session.client("cloudwatch", config=config),
        )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_mapping(
        os.environ, function=args.function, s3_store=getattr(args, "s3_store", None)
    )


def platform(args: argparse.Namespace, aws: Aws | None = None) -> AwsReleasePlatform:
    """The AWS platform for these flags: connects unless a test passes `aws`."""
    settings = _settings(args)
    return AwsReleasePlatform(
        aws or connect(settings),
        settings.function,
        source=lambda: open_store(getattr(args, "source_store", None)),
        s3_store=settings.s3_store,
        code=CodeChange.of(getattr(args, "zip", None), getattr(args, "image_uri", None)),
    )
