"""A store backend: the set of store interfaces one database provides."""

from __future__ import annotations

from typing import Protocol

from hub.store.base import Store
from hub.store.outbox import Outbox


class Backend(Store, Outbox, Protocol):
    """Everything a backend registered in :mod:`hub.store.factory` provides."""
