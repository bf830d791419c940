"""Deploying apps: placement next to the sensors, each node's desired set, and what the nodes report."""
