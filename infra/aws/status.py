"""`slipway status --target aws`: versions with their models, aliases with weights and history."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from functions.predict.config import MODEL, MODEL_SHA256
from infra.aws.client import Aws
from infra.aws.history import History, target_from_alias
from model_store.backends.s3 import S3VersionUri, is_s3_uri
from model_store.exceptions import ModelStoreError


def model_of(config: dict[str, Any]) -> tuple[str, str]:
    """(name@version, sha256) a version serves, read from its environment."""
    env = (config.get("Environment") or {}).get("Variables") or {}
    # $LATEST after a stack update has none: the next release (or deploy) sets it.
    ref = env.get(MODEL) or "(no model)"
    if is_s3_uri(ref):
        with contextlib.suppress(ModelStoreError):  # not a store's URI: show it as it is
            ref = S3VersionUri.parse(ref).ref
    return ref, env.get(MODEL_SHA256) or ""


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else "?"


def gather(aws: Aws, function: str) -> dict[str, Any]:
    latest = aws.function(function)
    versions = aws.versions(function)
    known = {str(v["Version"]) for v in versions}
    out_versions = []
    for v in versions:
        ref, sha = model_of(v)
        out_versions.append(
            {
                "version": str(v["Version"]),
                "model": ref,
                "sha256": sha,
                "last_modified": v.get("LastModified", ""),
                "description": v.get("Description", ""),
            }
        )
    out_aliases = []
    for a in aws.aliases(function):
        target = target_from_alias(a)
        history = History.decode(a.get("Description"))
        out_aliases.append(
            {
                "name": a["Name"],
                "version": target.version,
                "canary": target.canary,
                "weight": target.weight,
                "missing_versions": [v for v in target.versions() if v not in known],
                "since": _when(history.since),
                "history": [
                    {"target": e.target.label(), "since": _when(e.since)}
                    for e in reversed(history.earlier)
                ],
                "history_truncated": history.truncated,
                "revision_id": a.get("RevisionId"),
            }
        )
    ref, sha = model_of(latest)
    return {
        "function": function,
        "latest": {
            "model": ref,
            "sha256": sha,
            "last_update_status": latest.get("LastUpdateStatus", ""),
            "code_sha256": latest.get("CodeSha256", ""),
        },
        "versions": out_versions,
        "aliases": out_aliases,
    }


def render(status: dict[str, Any]) -> str:
    lines = [
        f"function {status['function']}: $LATEST serves {status['latest']['model']} "
        f"(LastUpdateStatus {status['latest']['last_update_status'] or '?'})",
        "",
        f"{'VERSION':<8} {'MODEL':<24} {'SHA256':<14} LAST MODIFIED",
    ]
    for v in status["versions"]:
        lines.append(
            f"{v['version']:<8} {v['model']:<24} {v['sha256'][:12]:<14} {v['last_modified']}"
        )
    if not status["versions"]:
        lines.append("(no published versions: run `slipway publish --target aws`)")
    lines.append("")
    for a in status["aliases"]:
        if a["canary"]:
            share = f"{a['version']} ({1 - a['weight']:.0%}) + {a['canary']} ({a['weight']:.0%})"
        else:
            share = f"{a['version']} (100%)"
        lines.append(f"alias {a['name']} -> {share} since {a['since']}")
        if a["missing_versions"]:
            lines.append(
                f"  WARNING: version(s) {', '.join(a['missing_versions'])} do not exist; "
                f"set the alias again with `slipway alias set {a['name']} N --target aws`"
            )
        for h in a["history"]:
            lines.append(f"  before: {h['target']} since {h['since']}")
        if a["history_truncated"]:
            lines.append("  (older history dropped: an alias description holds 256 characters)")
    if not status["aliases"]:
        lines.append("(no aliases: run `slipway alias set live N --target aws`)")
    return "\n".join(lines)
