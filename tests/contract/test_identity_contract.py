"""The identity store's contract (local users): every backend passes it."""

from __future__ import annotations

import pytest

from hub.errors import Conflict
from hub.store.backend import Backend
from hub.store.identity import UserRecord
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
