"""The prediction function: one FastAPI app on Lambda via Mangum, plus a lean direct path."""
