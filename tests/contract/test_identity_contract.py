"""The identity store's contract (local users and their token sessions): every backend passes it."""

from __future__ import annotations

import pytest

from hub.errors import Conflict
from hub.store.backend import Backend
from hub.store.identity import SessionRecord, SessionStatus, UserRecord
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)


async def test_users(backend: Backend) -> None:
    await with_devices(backend, tenant="ta")
    admin = UserRecord("admin", "h-admin", "admin", None, T0)
    alice = UserRecord("alice", "h-alice", "tenant_admin", "ta", T0)
    await backend.identity.create_user(admin)
    await backend.identity.create_user(alice)
    with pytest.raises(Conflict):
        await backend.identity.create_user(alice)
    await backend.identity.put_user(UserRecord("admin", "h-new", "admin", None, T0))
    assert (await backend.identity.get_user("admin")).password_hash == "h-new"  # type: ignore[union-attr]
    assert await backend.identity.get_user("ghost") is None
    assert [u.username for u in await backend.identity.list_users("ta")] == ["alice"]
    assert {u.username for u in await backend.identity.list_users(None)} == {"admin", "alice"}


async def test_changes_of_a_user_raise_its_token_version(backend: Backend) -> None:
    identity = backend.identity
    await identity.create_user(UserRecord("bob", "h-bob", "user", "ta", T0))
    assert (await identity.get_user("bob")).token_version == 0  # type: ignore[union-attr]
    changed = await identity.update_user("bob", password_hash="h-bob-2")
    assert changed == UserRecord("bob", "h-bob-2", "user", "ta", T0, 1)
    changed = await identity.update_user("bob", role="admin")
    assert changed == UserRecord("bob", "h-bob-2", "admin", "ta", T0, 2)
    assert await identity.get_user("bob") == changed
    assert await identity.update_user("ghost", password_hash="x") is None
    # Replacing a user never takes it back to a version whose tokens were revoked.
    await identity.put_user(UserRecord("bob", "h-bob-3", "user", "ta", T0))
    assert (await identity.get_user("bob")).token_version == 3  # type: ignore[union-attr]
    await identity.put_user(UserRecord("carol", "h-carol", "user", "ta", T0))
    assert (await identity.get_user("carol")).token_version == 0  # type: ignore[union-attr]
    assert [u.token_version for u in await identity.list_users("ta")] == [3, 0]


async def test_sessions_are_checked_revoked_and_go_with_their_user(backend: Backend) -> None:
    identity = backend.identity
    await identity.create_user(UserRecord("bob", "h-bob", "user", "ta", T0))
    first, second = SessionRecord("s-1", "bob", T0, T0 + 60_000), SessionRecord("s-2", "bob", T0 + 1, T0 + 60_001)
    await identity.create_session(first)
    await identity.create_session(second)
    with pytest.raises(Conflict):
        await identity.create_session(first)
    assert await identity.session_status("s-1") == SessionStatus(first, 0)
    assert await identity.session_status("nope") is None
    assert await identity.revoke_session("s-1") is True
    assert await identity.revoke_session("nope") is False
    revoked = await identity.session_status("s-1")
    assert revoked is not None and revoked.session.revoked
    assert await identity.session_status("s-2") == SessionStatus(second, 0)  # the other one is untouched
    await identity.update_user("bob", password_hash="h-new")
    assert await identity.session_status("s-2") == SessionStatus(second, 1)  # the caller compares versions
    assert await identity.delete_user("bob") is True
    assert await identity.delete_user("bob") is False
    assert await identity.get_user("bob") is None
    assert await identity.session_status("s-2") is None
    # A user of the same name later is a new user: the old sessions are gone, not revived.
    await identity.create_user(UserRecord("bob", "h-bob", "user", "ta", T0))
    assert await identity.session_status("s-2") is None


async def test_a_session_of_an_unknown_user_is_never_good(backend: Backend) -> None:
    await backend.identity.create_session(SessionRecord("s-x", "nobody", T0, T0 + 60_000))
    assert await backend.identity.session_status("s-x") is None


async def test_expired_sessions_are_purged_when_a_session_is_recorded(backend: Backend) -> None:
    identity = backend.identity
    await identity.create_user(UserRecord("bob", "h-bob", "user", "ta", T0))
    await identity.create_session(SessionRecord("old", "bob", T0, T0 + 1000))
    await identity.create_session(SessionRecord("live", "bob", T0, T0 + 5000))
    assert await identity.session_status("old") is not None  # not purged before anything else is recorded
    await identity.create_session(SessionRecord("new", "bob", T0 + 2000, T0 + 9000))
    assert await identity.session_status("old") is None
    assert await identity.session_status("live") is not None and await identity.session_status("new") is not None


async def test_directory_users_are_recorded_at_sign_in(backend: Backend) -> None:
    identity = backend.identity
    first = await identity.record_directory_user("dora", "user", "ta", T0)
    assert first == UserRecord("dora", "", "user", "ta", T0, 0, "ldap", T0)
    # Signing in again with the same groups only moves the last sign-in; the tokens stay good.
    again = await identity.record_directory_user("dora", "user", "ta", T0 + 5)
    assert again == UserRecord("dora", "", "user", "ta", T0, 0, "ldap", T0 + 5)
    # Another role or tenant (the groups changed) raises the token version: older tokens stop working.
    moved = await identity.record_directory_user("dora", "admin", "tb", T0 + 9)
    assert moved == UserRecord("dora", "", "admin", "tb", T0, 1, "ldap", T0 + 9)
    assert await identity.get_user("dora") == moved
    assert [(u.username, u.source) for u in await identity.list_users("tb")] == [("dora", "ldap")]
    await identity.create_session(SessionRecord("s-d", "dora", T0, T0 + 60_000))
    assert await identity.session_status("s-d") == SessionStatus(SessionRecord("s-d", "dora", T0, T0 + 60_000), 1)
    assert await identity.delete_user("dora") is True
    assert await identity.session_status("s-d") is None


async def test_a_local_user_wins_over_a_directory_user_of_the_same_name(backend: Backend) -> None:
    identity = backend.identity
    local = UserRecord("erin", "h-erin", "user", "ta", T0)
    await identity.create_user(local)
    assert await identity.record_directory_user("erin", "admin", None, T0 + 1) is None
    assert await identity.get_user("erin") == local
