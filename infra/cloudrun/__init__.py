"""Google Cloud Run: the deploy manifest (`slipway cloudrun manifest`)."""
