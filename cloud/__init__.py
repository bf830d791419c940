"""Fieldhub control plane: HTTP API, identity, and the composition root of ``fieldhub up``."""
