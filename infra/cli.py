"""The `slipway` command line. Each area registers its own subcommands.

A subcommand module has `register(subparsers)`, which adds parsers whose `func` takes the
parsed namespace and returns an exit code. Errors derived from a package's base exception
are printed without a traceback and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Imported lazily by name, so `slipway --help` stays fast and one area's heavy imports
# never slow another's commands.
COMMAND_MODULES = (
    "model_store.cli",
    "infra.invoke",
    "infra.release_cli",
    "infra.build.cli",
    "infra.local.cli",
    "infra.loadtest.cli",
    "infra.image.cli",
    "infra.image.run",
    "infra.cloudrun.cli",
)

EXPECTED_ERRORS = (
    "model_store.exceptions:ModelStoreError",
    "functions.predict.exceptions:PredictError",
    "infra.build.exceptions:BuildError",
    "infra.release.exceptions:ReleaseError",
    "infra.local.exceptions:LocalPlatformError",
    "infra.loadtest.exceptions:LoadTestError",
    "infra.image.exceptions:ImageError",
    "infra.cloudrun.exceptions:CloudRunError",
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="slipway",
        description="Put a trained model behind an HTTPS endpoint without running servers.",
    )
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return top


def _expected_errors() -> tuple[type[BaseException], ...]:
    out = []
    for spec in EXPECTED_ERRORS:
        module, _, attr = spec.partition(":")
        try:
            out.append(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            continue
    return tuple(out)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("slipway: interrupted", file=sys.stderr)
        return 130
    except _expected_errors() as exc:
        print(f"slipway {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        # An optional extra `make serve` did not install (boto3, locust, torch…): say which.
        from infra.extras import missing_hint

        hint = missing_hint(exc)
        if hint is None:
            raise
        print(f"slipway {args.command}: error: {hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
