"""`slipway loadtest`: Locust against a Slipway endpoint, with a report split by model version."""
