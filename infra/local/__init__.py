"""The local serverless platform: API Gateway and Lambda emulated on one machine, no Docker.

Its parts, each importing only those listed before it:

- `config`, `exceptions`: settings and errors;
- `state/`: the files `slipway serve` and the release verbs share (versions and aliases, the
  per-version counts, a release's progress);
- `runtime/`: Lambda's execution environments (the Runtime API, awslambdaric processes or
  containers, their pool, log lines and REPORT lines);
- `gateway/`: API Gateway in front of the pool (HTTPS, connection limits, routing by alias);
- `console/`: the page at /_slipway/ the gateway serves when `slipway serve` attaches it;
- `platform/`: the local platform as a release platform (`--target local`);
- `cloudrun/`: Cloud Run's front end and autoscaler, built on the gateway and the platform;
- `serve`, `cli`: `slipway serve`, which puts them together.
"""
