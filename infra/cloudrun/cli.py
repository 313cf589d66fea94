"""`slipway cloudrun manifest`: write the Cloud Run service YAML (see infra/cloudrun/manifest.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from infra.cloudrun.manifest import ServiceSpec, invoker_command, render


def register(sub: Any) -> None:
    top = sub.add_parser("cloudrun", help="Google Cloud Run: the service manifest")
    cr = top.add_subparsers(dest="cloudrun_command", metavar="ACTION", required=True)
    p = cr.add_parser(
        "manifest", help="write a Knative Service YAML for gcloud run services replace"
    )
    p.add_argument("--image", required=True, help="URI@sha256:… (a tag is refused)")
    p.add_argument("--model", required=True, help="NAME@VERSION baked into the image")
    p.add_argument("--model-sha256", help="the model's sha256, verified by the function at init")
    p.add_argument("--service", default="slipway", help="service name (default: slipway)")
    p.add_argument("--region", default="us-central1", help="region (default: us-central1)")
    p.add_argument("--project", help="project id (names the service account)")
    p.add_argument(
        "--service-account", help="email of the service account (default: SERVICE-run@PROJECT)"
    )
    p.add_argument("--concurrency", type=int, default=80, help="containerConcurrency (default 80)")
    p.add_argument("--timeout", type=int, default=60, help="timeoutSeconds (default 60)")
    p.add_argument("--cpu", default="1", help="CPU limit (default 1)")
    p.add_argument("--memory", default="1Gi", help="memory limit (default 1Gi)")
    p.add_argument("--min-instances", type=int, default=0, help="minScale (default 0)")
    p.add_argument("--max-instances", type=int, default=10, help="maxScale (default 10)")
    p.add_argument(
        "--ingress", default="all", help="all, internal, internal-and-cloud-load-balancing"
    )
    p.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="print the gcloud command granting allUsers the invoker role",
    )
    p.add_argument("--out", help="file to write (default: stdout)")
    p.set_defaults(func=_manifest)


def _manifest(args: argparse.Namespace) -> int:
    spec = ServiceSpec(
        image=args.image,
        model=args.model,
        service=args.service,
        region=args.region,
        project=args.project,
        model_sha256=args.model_sha256,
        concurrency=args.concurrency,
        timeout_seconds=args.timeout,
        cpu=args.cpu,
        memory=args.memory,
        min_scale=args.min_instances,
        max_scale=args.max_instances,
        ingress=args.ingress,
        service_account=args.service_account,
    )
    text = render(spec, args.out or "service.yaml")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}: gcloud run services replace {args.out} --region {spec.region}")
    else:
        sys.stdout.write(text)
    if args.allow_unauthenticated:
        # To stderr when the YAML goes to stdout, so a redirect keeps the file valid YAML.
        print(
            f"then, to allow unauthenticated calls:\n  {invoker_command(spec)}",
            file=sys.stderr if not args.out else sys.stdout,
        )
    return 0
