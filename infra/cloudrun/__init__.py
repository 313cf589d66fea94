"""Google Cloud Run: the service manifest (`slipway cloudrun manifest`) and `--target cloudrun`."""
