"""The edge agent (``fieldhub agent``): sampling, the on-disk spool, uplink, commands and heartbeats.

It depends only on ``contracts`` and ``device_drivers`` and the base install; never on ``hub`` or ``cloud``.
It arrives with the edge-agent work.
"""
