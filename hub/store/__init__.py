"""Persistence, one small interface per concern (registry, telemetry, outbox, state, nodes, identity,
provisioning); a backend is a set of them on one database (see ``backend``)."""
