"""Fieldhub contracts: everything that crosses a process boundary, defined once.

Pure data and pure functions only: pydantic models, the MQTT topic scheme, the
telemetry payload parser and the error codes. No I/O happens in this package, so
app developers and edge agents can depend on it with nothing else installed.
"""
