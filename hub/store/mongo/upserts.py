"""Upserts that two processes may race on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo.errors import DuplicateKeyError

T = TypeVar("T")


async def upsert(write: Callable[[], Awaitable[T]]) -> T:
    """Run ``write``, an upsert by ``_id``, once more if it lost the insert to another writer.

    Two upserts of a missing document may both try to insert it; MongoDB retries the loser itself, FerretDB
    answers it with a duplicate key. The second run finds the document and updates it.
    """
    try:
        return await write()
    except DuplicateKeyError:
        return await write()
