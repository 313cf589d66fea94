"""`slipway image ...`: the container image's own commands (`push` now; more may join)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    image = sub.add_parser("image", help="the container image: push it to a registry")
    verbs = image.add_subparsers(dest="image_command", metavar="VERB", required=True)
    _register_push(verbs)


def _register_push(verbs: Any) -> None:
    p = verbs.add_parser(
        "push",
        help="push an OCI archive to a registry and print its digest",
        description=(
            "Push an OCI archive (e.g. build/3.13-arm64/image.oci.tar) with skopeo, podman "
            "or docker, whichever is found first, and print REGISTRY/REPO@sha256:... for "
            "`osls deploy --param image=` and `slipway release --image-uri`. Amazon ECR "
            "registries (ACCOUNT.dkr.ecr.REGION.amazonaws.com) are logged in to with your "
            "AWS credentials (ecr:GetAuthorizationToken)."
        ),
    )
    p.add_argument("archive", type=Path, metavar="ARCHIVE", help="an OCI archive (.oci.tar)")
    p.add_argument("destination", metavar="REGISTRY/REPO:TAG")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="plain HTTP, no TLS verification (automatic for localhost, 127.0.0.0/8 and ::1 "
        "registries; every other registry is verified unless this is given)",
    )
    tls.add_argument(
        "--tls-verify",
        dest="insecure",
        action="store_false",
        help="verify TLS even for a loopback registry",
    )
    p.add_argument(
        "--tool",
        choices=("skopeo", "podman", "docker"),
        help="default: the first of skopeo, podman, docker on PATH",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_push)


def _push(args: argparse.Namespace) -> int:
    import json

    # Here, not at the top: every `slipway` command imports this module to build its parser,
    # and the push adds 5 ms (-X importtime).
    from infra.image.push import push

    print(f"pushing {args.archive} to {args.destination}...", file=sys.stderr)
    result = push(args.archive, args.destination, insecure=args.insecure, tool=args.tool)
    if args.json:
        out = {"destination": result.destination, "digest": result.digest, "uri": result.uri}
        print(json.dumps({**out, "tool": result.tool}, indent=2))
    else:
        print(f"pushed {result.destination} with {result.tool}")
        print(f"digest: {result.digest}")
        print(f"uri:    {result.uri}")
    return 0
