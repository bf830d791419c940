"""Alarm rules evaluated on what ingest stores, alarms with their lifecycle, and the watch for silent devices."""
