"""A live stream's watch over its token: expiry by the clock, the store asked at most once a second."""

from __future__ import annotations

import pytest

from cloud.identity.principals import Principal, Role
from cloud.identity.tokens import SessionWatch, TokenService, TokenSession
from hub.errors import StoreUnavailable
from hub.store.identity import SessionRecord, SessionStatus

pytestmark = pytest.mark.timeout(10)
T0 = 1_000.0  # small, so that float sums stay exact enough to compare


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Sessions:
    """Stands in for the identity store: counts the lookups, answers as told."""

    def __init__(self) -> None:
        self.lookups = 0
        self.revoked = False
        self.down = False

    async def session_status(self, session_id: str) -> SessionStatus:
        self.lookups += 1
        if self.down:
            raise StoreUnavailable("store is away")
        return SessionStatus(SessionRecord(session_id, "ann", 0, 0, self.revoked), 0)


def _watch(clock: Clock, sessions: Sessions, ttl_s: int = 60) -> SessionWatch:
    tokens = TokenService("k" * 40, ttl_s, sessions)  # type: ignore[arg-type]
    session = TokenSession(Principal("ann", Role.USER, "t"), "sid-1", 0, int(T0) + ttl_s)
    return SessionWatch(tokens, session, clock=clock)


async def test_the_store_is_asked_at_most_once_a_second() -> None:
    clock, sessions = Clock(), Sessions()
    watch = _watch(clock, sessions)
    for _ in range(100):  # a burst of events within the first second: the request's own check stands
        clock.now += 0.009
        assert await watch.reason_to_end() is None
        watch.sent()
    assert sessions.lookups == 0
    assert watch.due_in() == pytest.approx(1.0 - 0.9 + 0.001)  # a check is owed for what went out
    clock.now = T0 + 1.0
    assert await watch.reason_to_end() is None
    assert sessions.lookups == 1
    assert watch.due_in() == pytest.approx(59.001)  # nothing sent since: only the expiry is due
    sessions.revoked = True
    clock.now += 0.5
    assert await watch.reason_to_end() is None and sessions.lookups == 1
    clock.now += 0.5
    assert await watch.reason_to_end() == "revoked"
    assert sessions.lookups == 2


async def test_expiry_is_the_clocks_business() -> None:
    clock, sessions = Clock(), Sessions()
    watch = _watch(clock, sessions, ttl_s=5)
    assert watch.due_in() == pytest.approx(5.001)
    clock.now = T0 + 5
    assert await watch.reason_to_end() == "token_expired"
    assert watch.due_in() == pytest.approx(0.001)
    assert sessions.lookups == 0


async def test_a_session_that_cannot_be_checked_is_not_trusted() -> None:
    clock, sessions = Clock(), Sessions()
    watch = _watch(clock, sessions)
    sessions.down = True
    clock.now += 2
    assert await watch.reason_to_end() == "unavailable"
