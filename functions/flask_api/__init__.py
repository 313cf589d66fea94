"""The classic Flask API: the predict function's contract, served by gunicorn or serverless-wsgi."""
