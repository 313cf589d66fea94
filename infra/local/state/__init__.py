"""The local platform's files that `slipway serve` and the release verbs share, in its state
directory: versions and aliases (`store`), per-version counts (`counts`), a release's step
(`progress`)."""
