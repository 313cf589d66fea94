"""Platforms and release tooling: the local platform, AWS, and the `slipway` CLI."""
