"""The local serverless platform: API Gateway and Lambda emulated on one machine, no Docker."""
