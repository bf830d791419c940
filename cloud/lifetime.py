"""The start-and-stop shape shared by the composition roots."""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self


class Lifetime:
    """``async with`` runs :meth:`_start`, which pushes every clean-up onto ``self._stack``.

    A failed start undoes what was already started; leaving the block stops it in reverse.
    """

    def __init__(self) -> None:
        self._stack = AsyncExitStack()

    async def _start(self) -> None:
        raise NotImplementedError

    def _stopped(self) -> None:
        """Forget what ran (after the stack closed)."""

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)
        self._stopped()
