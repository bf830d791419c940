"""Telemetry ingest: decode, validate, enrich, batch, store, fan out."""
