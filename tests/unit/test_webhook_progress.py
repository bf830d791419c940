"""The webhook dispatcher's progress: the cursor it keeps never passes an event some subscription still owes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.events.progress import Progress

pytestmark = pytest.mark.timeout(60)


def test_the_cursor_waits_for_the_oldest_event_still_owed() -> None:
    progress = Progress(10)
    assert progress.settled == 10
    progress.hand(12, 2)
    progress.hand(13, 0)  # no subscription wants it
    progress.hand(15, 1)
    assert progress.settled == 11
    progress.settle(15)
    progress.settle(12)
    assert progress.settled == 11  # one subscription still owes 12
    progress.settle(12)
    assert progress.settled == 15
    progress.hand(20, 0)
    assert progress.settled == 20


def test_events_out_of_store_order_or_settled_twice_are_refused() -> None:
    progress = Progress(10)
    with pytest.raises(ValueError, match="store order"):
        progress.hand(10, 1)
    with pytest.raises(ValueError, match="no fewer than 0"):
        progress.hand(11, -1)
    progress.hand(11, 1)
    progress.settle(11)
    with pytest.raises(KeyError):
        progress.settle(11)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.data())
def test_the_cursor_is_the_last_event_all_up_to_which_are_settled(takers: list[int], data: st.DataObject) -> None:
    """Events handed out in store order, their takers done in any order: the cursor rises and passes no owed one."""
    progress = Progress(0)
    owed: dict[int, int] = {}  # every event handed out so far -> how many takers still owe it
    cursor = 0
    while len(owed) < len(takers) or any(owed.values()):
        unsettled = [e for e, left in owed.items() if left]
        if len(owed) < len(takers) and (not unsettled or data.draw(st.booleans())):
            event_id = len(owed) + 1
            progress.hand(event_id, takers[event_id - 1])
            owed[event_id] = takers[event_id - 1]
        else:
            event_id = data.draw(st.sampled_from(unsettled))
            progress.settle(event_id)
            owed[event_id] -= 1
        still_owed = [e for e, left in owed.items() if left]
        assert progress.settled == (min(still_owed) - 1 if still_owed else max(owed))
        assert progress.settled >= cursor
        cursor = progress.settled
    assert cursor == len(takers)


def test_every_change_is_told_with_the_cursor_to_keep() -> None:
    told: list[int] = []
    progress = Progress(10, moved=told.append)
    progress.hand(11, 1)
    progress.hand(12, 0)
    progress.settle(11)
    assert told == [10, 10, 12]
