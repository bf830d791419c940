"""The HTTP API (FastAPI): routers per concern, one error mapping, one app factory."""
