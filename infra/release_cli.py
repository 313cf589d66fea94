"""The command line of the release verbs: publish, alias set, rollback, status, release.

The verbs are the engine's (`infra.release.verbs`), the same for every platform. `--target`
picks the platform explicitly (no guessing from ambient credentials): `PLATFORMS` maps each
name to the module whose `platform(args)` builds that platform from the flags.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

PLATFORMS = {
    "local": "infra.local.platform.commands",
    "aws": "infra.aws.commands",
    "cloudrun": "infra.cloudrun.commands",
    "local-cloudrun": "infra.local.cloudrun.commands",
}
TARGETS = tuple(PLATFORMS)
# The verbs' exit codes (infra.release.verbs.EXIT_CODES decides them); a pipeline branches on them.
EXIT_CODES = """exit codes:
  0  released (the alias points at the new version), or unchanged (the alias's version
     pins this code, configuration and model already: nothing was published or moved)
  1  refused or failed otherwise (bad flags, not found, smoke test failed, a platform error)
  2  usage error (argparse)
  3  rolled back: the canary failed and the alias points where it did before
  4  conflict: someone else changed the function or alias; nothing moved
  5  partial: the version is published but the alias move failed (the message says how to finish)
with --json, stdout is one object: {"result": "released"|"unchanged"|"dry_run"|"refused"|
"rolled_back"|"conflict"|"partial"|"error", "exit_code": N, ...} ("error": any other failure,
exit code 1)"""


def _common(p: argparse.ArgumentParser, *, writes: bool) -> None:
    p.add_argument("--target", choices=TARGETS, default="local", help="platform (default: local)")
    p.add_argument(
        "--function", help="function name (local default: predict; aws: see --help of the target)"
    )
    p.add_argument("--state", help="local platform state directory (default: .slipway)")
    g = p.add_argument_group("--target cloudrun")
    g.add_argument("--project", help="Google Cloud project (default: $SLIPWAY_CLOUDRUN_PROJECT)")
    g.add_argument("--region", help="Cloud Run region (default: $SLIPWAY_CLOUDRUN_REGION)")
    if writes:
        p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "publish", help="publish an immutable function version pinning a model version"
    )
    p.add_argument("--model", required=True, help="NAME@VERSION of the model this version serves")
    p.add_argument("--description", default="")
    _common(p, writes=True)
    _aws_publish_flags(p)
    p.set_defaults(func=_dispatch("publish"))

    p = sub.add_parser(
        "release",
        help="publish, smoke-test, shift traffic in steps, roll back on errors",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        help="NAME@VERSION of the model to release (default: the model the alias serves now, "
        "kept: a release of new code or configuration)",
    )
    p.add_argument("--alias", default="live", help="alias to move (default: live)")
    p.add_argument("--steps", default="0.1,1", help="new version's share per step (default: 0.1,1)")
    p.add_argument(
        "--wait", type=float, default=60.0, help="seconds to watch each step (default 60)"
    )
    p.add_argument("--poll", type=float, default=10.0, help="seconds between checks (default 10)")
    p.add_argument(
        "--alarm", action="append", help="CloudWatch alarm that fails the release (repeatable)"
    )
    p.add_argument(
        "--max-errors",
        type=float,
        default=0.0,
        help="Errors of the new version allowed (default 0)",
    )
    p.add_argument("--skip-smoke", action="store_true", help="do not smoke-invoke the new version")
    p.add_argument(
        "--json",
        action="store_true",
        help="progress on stderr; the result as one JSON object on stdout (for pipelines)",
    )
    _common(p, writes=True)
    _aws_publish_flags(p)
    p.set_defaults(func=_dispatch("release"))

    alias = sub.add_parser("alias", help="point an alias at a version (optionally with a canary)")
    alias_sub = alias.add_subparsers(dest="alias_command", metavar="ACTION", required=True)
    p = alias_sub.add_parser(
        "set", help="set ALIAS to VERSION, optionally sending --weight to --canary"
    )
    p.add_argument("alias")
    p.add_argument("version")
    p.add_argument("--canary", help="second version that gets --weight of the traffic")
    p.add_argument("--weight", type=float, help="share of traffic for --canary, in [0, 1]")
    _common(p, writes=True)
    p.set_defaults(func=_dispatch("alias_set"))

    p = sub.add_parser("rollback", help="return ALIAS to where it pointed before its last change")
    p.add_argument("alias")
    _common(p, writes=True)
    p.set_defaults(func=_dispatch("rollback"))

    p = sub.add_parser("status", help="versions with their models, aliases, weights and history")
    p.add_argument("--json", action="store_true")
    _common(p, writes=False)
    p.set_defaults(func=_dispatch("status"))


def _aws_publish_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("--target aws (and --image-uri for cloudrun)")
    g.add_argument(
        "--source-store",
        help="store holding the model (default: $SLIPWAY_STORE or model_store/models)",
    )
    g.add_argument(
        "--s3-store",
        help="s3://BUCKET/PREFIX the function reads (default: $SLIPWAY_S3_STORE or its current one)",
    )
    g.add_argument("--zip", help="also deploy this function zip (a code release)")
    g.add_argument(
        "--image-uri",
        help="also deploy this container image, URI@sha256:… (a code release; aws and cloudrun)",
    )
    g.add_argument(
        "--manifest",
        help="cloudrun: the new revision takes this service manifest's template (image, env, "
        "resources, scaling; `slipway cloudrun manifest` writes it)",
    )


def _dispatch(verb: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        # Here, not at the top: every `slipway` command imports this module to build its
        # parser, and the engine adds 15 ms (-X importtime); the platform's module is imported
        # by name, only for its --target.
        from infra.release import verbs

        module = importlib.import_module(PLATFORMS[args.target])
        return verbs.run(verbs.VERBS[verb], lambda: module.platform(args), args)

    return run
