"""Releases on AWS: versions, aliases, canaries and rollback through boto3."""
