"""Persistence of the registry, telemetry and state behind one interface (see ``base``)."""
