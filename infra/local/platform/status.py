"""`slipway status --target local`: versions with their models, aliases and their history."""

from __future__ import annotations

from infra.local.state.store import State


def render_status(state: State) -> str:
    if not state.versions:
        return "no versions yet: run `slipway publish --model digits@1`"
    lines = [
        f"function {state.function}",
        f"  {'VERSION':<8} {'MODEL':<20} {'MODEL SHA256':<18} {'ARTIFACT':<14} CREATED",
    ]
    for n, v in sorted(state.versions.items()):
        digest = (v.artifact.get("function_sha256") or "-")[:12]
        lines.append(
            f"  {n:<8} {v.model or '-':<20} {(v.model_sha256 or '-')[:16]:<18} {digest:<14} {v.created_at}"
        )
    for name, alias in sorted(state.aliases.items()):
        history = " <- ".join(e.target.label() for e in reversed(alias.history.earlier)) or "none"
        lines.append(
            f"alias {name} -> {alias.routing().shares()} (revision {alias.revision}; "
            f"earlier: {history})"
        )
    return "\n".join(lines)
