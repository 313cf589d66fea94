#!/usr/bin/env bash
# The release step of .github/workflows/release.yml, for both targets:
#   infra/ci/release.sh ARGS...   runs   .venv/bin/slipway release ARGS... --json
# Progress goes to the log (stderr); the JSON result goes to release.json, to the step's
# outputs (result, version), to the job summary and, on failure, to an error annotation.
# Exits with slipway's own code (0 released, 3 rolled back, 4 conflict, 5 partial, 1 refused),
# so a rollback fails the job.
set -uo pipefail
slipway="${SLIPWAY_BIN:-.venv/bin/slipway}"
out="${RELEASE_JSON:-release.json}"

"$slipway" release "$@" --json >"$out"
code=$?
result=$(jq -r '.result // "error"' "$out" 2>/dev/null || echo error)
version=$(jq -r '.version // ""' "$out" 2>/dev/null || true)
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "result=$result"; echo "version=$version"; echo "exit-code=$code"; } >>"$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "### slipway release: $result (exit $code)"
    echo '```json'
    cat "$out"
    echo '```'
  } >>"$GITHUB_STEP_SUMMARY"
fi
if [ "$code" -ne 0 ]; then
  # An annotation is one line: the reason, cut to 1000 characters.
  reason=$(jq -r '.error // "no result (see the log)"' "$out" 2>/dev/null | tr '\n' ' ' | cut -c1-1000)
  echo "::error title=slipway release: ${result}::${reason}"
fi
exit "$code"
