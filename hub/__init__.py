"""Fieldhub data plane: broker adapters, device auth/ACL, ingest, telemetry store."""
