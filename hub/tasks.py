"""Background tasks with an owner: every long-lived component keeps its tasks in one of these.

A task nobody awaits can die unnoticed or outlive what it works for. Here each component's tasks
live in an :class:`asyncio.TaskGroup` that the component opens when it starts and closes when it
stops: stopping cancels the tasks and returns only once they have ended, and a task that fails
with an unexpected error stops its siblings and is raised where the component is stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Background:
    """The tasks of one component; :meth:`open` before the first :meth:`spawn`, :meth:`close` to end them."""

    def __init__(self) -> None:
        self._group: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def open(self) -> None:
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` as a task of this component."""
        if self._group is None:
            coro.close()
            raise RuntimeError("the component is not running")
        task = self._group.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Cancel every task still running and wait until all have ended."""
        group, self._group = self._group, None
        if group is None:
            return
        for task in list(self._tasks):
            task.cancel()
        await group.__aexit__(None, None, None)
