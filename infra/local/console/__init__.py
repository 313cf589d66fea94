"""The local platform's console at /_slipway/: what the gateway and its environments do."""
