"""The names of the MongoDB store's rollups collections, one per span of :data:`~hub.store.telemetry.ROLLUP_SPANS`.

Apart from hub/store/mongo/rollups.py, which uses them, because hub/store/mongo/schema.py lists their indexes and
the rollups adapter (through the database module) imports the schema.
"""

from __future__ import annotations

from hub.store.telemetry import ROLLUP_SPANS

#: Units a span's collection is named in, largest first.
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))


def _name(span: int) -> str:
    """``telemetry_rollups_`` and ``span`` in the largest unit dividing it (``1m``, ``1h``)."""
    unit, ms = next((unit, ms) for unit, ms in _UNITS if span % ms == 0)
    return f"telemetry_rollups_{span // ms}{unit}"


#: The collection of each span's rollups.
ROLLUP_COLLECTIONS = {span: _name(span) for span in ROLLUP_SPANS}
