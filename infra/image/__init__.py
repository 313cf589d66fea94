"""The container image: build it as an OCI archive, run it locally, push it to a registry."""
