"""Northbound stream sinks: every stored telemetry message is also written to each configured stream."""
