"""How a long-running Fieldhub process sets up Python's cyclic garbage collector.

Ingest keeps a broker window of messages in flight (a thousand messages of a hundred readings
are 100,000 tuples) and they live long enough to be promoted, so with the default thresholds
the collector walks them again and again: it cost a batched run half of its parsing time (see
docs/benchmarks.md). The ingest path makes no reference cycles, so a much larger first
threshold lets nearly every message be freed before a collection ever looks at it, and freezing
what start-up built (modules, routes, models) keeps the older collections from walking it.
Collections still run, so cycles made elsewhere are still freed.
"""

from __future__ import annotations

import gc

#: Net allocations between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 50_000


def settle_after_start() -> None:
    """Call once the process has started its services, before it takes load."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
