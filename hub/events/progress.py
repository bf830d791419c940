"""How far a dispatcher with a queue per subscription has settled the events it follows: where to resume.

The dispatcher hands events out in store order, each to the queues of the subscriptions it matches (webhooks,
notification channels). An event is settled once each of them is done with it: delivered, given up after its
last attempt, or dropped unsent (a full queue, a deleted subscription). Every event up to the oldest unsettled one
is settled, so a cursor there skips nothing when a successor resumes after it; what it sends again is at most what
was still unsettled.
"""

from __future__ import annotations

from collections.abc import Callable


class Progress:
    """Events handed out and not yet settled; :attr:`settled` is the cursor to keep.

    ``moved``, if given, is called with :attr:`settled` after every change (a
    :meth:`hub.events.cursor.SavedCursor.move` saves it).
    """

    def __init__(self, start: int, moved: Callable[[int], None] | None = None) -> None:
        #: The id of the last event handed out (``start``: where following began).
        self._handed = start
        self._moved = moved
        #: Unsettled event id -> how many subscriptions still owe it; in rising id order, as handed out.
        self._owed: dict[int, int] = {}

    def hand(self, event_id: int, takers: int) -> None:
        """``event_id`` goes to ``takers`` subscriptions (none: it is settled at once).

        Raises:
            ValueError: the event is not after the last one handed out, or ``takers`` is negative.
        """
        if event_id <= self._handed:
            raise ValueError(f"event {event_id} handed out after event {self._handed}: events go in store order")
        if takers < 0:
            raise ValueError(f"an event goes to no fewer than 0 subscriptions, not {takers}")
        self._handed = event_id
        if takers:
            self._owed[event_id] = takers
        self._tell()

    def settle(self, event_id: int) -> None:
        """One subscription is done with ``event_id``.

        Raises:
            KeyError: no subscription owes ``event_id`` any more (settled more often than handed out).
        """
        left = self._owed[event_id] - 1
        if left:
            self._owed[event_id] = left
        else:
            del self._owed[event_id]
        self._tell()

    @property
    def settled(self) -> int:
        """An id such that every event up to it is settled (to resume after)."""
        oldest_owed = next(iter(self._owed), None)
        return self._handed if oldest_owed is None else oldest_owed - 1

    def _tell(self) -> None:
        if self._moved is not None:
            self._moved(self.settled)
