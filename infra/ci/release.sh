#!/usr/bin/env bash
# The release step of .github/workflows/release.yml, for both targets:
#   infra/ci/release.sh deploy ARGS...   runs   npx osls deploy ARGS...         (aws)
#   infra/ci/release.sh ARGS...          runs   .venv/bin/slipway release ARGS... --json
# On AWS the deploy is the release: osls deploys the stack, then its plugin
# (infra/build/osls_release.js) runs `slipway release --json` and writes its result to
# $SLIPWAY_RELEASE_JSON. Progress goes to the log; the JSON result goes to release.json, to the
# step's outputs (result, version), to the job summary and, on failure, to an error annotation.
# Exits with slipway's own code (0 released or unchanged, 3 rolled back, 4 conflict,
# 5 partial, 1 refused; a deploy that failed before the release: osls's), so a rollback fails
# the job.
set -uo pipefail
slipway="${SLIPWAY_BIN:-.venv/bin/slipway}"
out="${RELEASE_JSON:-release.json}"
rm -f "$out"

if [ "${1:-}" = deploy ]; then
  shift
  SLIPWAY_RELEASE_JSON="$out" npx osls deploy "$@"
  code=$?
  if [ "$code" -ne 0 ]; then
    # osls exits 1 whatever failed; the release's own code says which (3: rolled back).
    released=$(jq -r '.exit_code // 0' "$out" 2>/dev/null || echo 0)
    if [ "$released" != 0 ]; then code=$released; fi
  fi
else
  "$slipway" release "$@" --json >"$out"
  code=$?
fi
result=$(jq -r '.result // "error"' "$out" 2>/dev/null || echo error)
version=$(jq -r '.version // ""' "$out" 2>/dev/null || true)
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "result=$result"; echo "version=$version"; echo "exit-code=$code"; } >>"$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "### slipway release: $result (exit $code)"
    echo '```json'
    cat "$out" 2>/dev/null || echo '{"result": "error", "error": "no result (see the log)"}'
    echo '```'
  } >>"$GITHUB_STEP_SUMMARY"
fi
if [ "$code" -ne 0 ]; then
  # An annotation is one line: the reason, cut to 1000 characters.
  reason=$(jq -r '.error // "no result (see the log)"' "$out" 2>/dev/null | tr '\n' ' ' | cut -c1-1000)
  echo "::error title=slipway release: ${result}::${reason:-no result (see the log)}"
fi
exit "$code"
