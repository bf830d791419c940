"""The API key store's contract, and the parts of the identity and registry stores keys and tenants rely on:
disabled users, and deleting a tenant only when it is empty. Every backend passes it."""

from __future__ import annotations

import pytest

from contracts.devices import Tenant
from hub.errors import Conflict
from hub.store.api_keys import ApiKeyRecord, ApiKeyStatus
from hub.store.backend import Backend
from hub.store.identity import UserRecord
from tests.contract.support import CREATED, T0, with_devices

pytestmark = pytest.mark.timeout(30)


def _key(
    key_id: str, creator: str = "bob", tenant: str | None = "ta", created: int = T0, **extra: object
) -> ApiKeyRecord:
    return ApiKeyRecord(key_id, f"name-{key_id}", creator, "user", tenant, "salt", "digest", created, **extra)  # type: ignore[arg-type]


async def test_keys_are_made_listed_checked_with_their_creator_and_deleted(backend: Backend) -> None:
    await backend.identity.create_user(UserRecord("bob", "h", "user", "ta", T0))
    await backend.identity.create_user(UserRecord("cid", "h", "admin", "tb", T0))
    first, second, other = _key("k1"), _key("k2", created=T0 + 1, expires=T0 + 60_000), _key("k3", "cid", "tb")
    for key in (first, second, other):
        await backend.api_keys.create_api_key(key)
    with pytest.raises(Conflict):
        await backend.api_keys.create_api_key(first)
    assert await backend.api_keys.get_api_key("k2") == second
    assert await backend.api_keys.get_api_key("nope") is None
    assert [k.id for k in await backend.api_keys.list_api_keys()] == ["k2", "k1", "k3"]  # newest first, then by id
    assert [k.id for k in await backend.api_keys.list_api_keys(tenant="ta")] == ["k2", "k1"]
    assert [k.id for k in await backend.api_keys.list_api_keys(creator="cid")] == ["k3"]
    assert await backend.api_keys.list_api_keys(tenant="ta", creator="cid") == []
    bob = await backend.identity.get_user("bob")
    assert await backend.api_keys.api_key_status("k1") == ApiKeyStatus(first, bob)  # type: ignore[arg-type]
    assert await backend.api_keys.api_key_status("nope") is None
    # The creator as stored now comes with the key: a disabled creator shows at once.
    await backend.identity.update_user("bob", disabled=True)
    status = await backend.api_keys.api_key_status("k1")
    assert status is not None and status.creator.disabled
    assert await backend.api_keys.delete_api_key("k1") is True
    assert await backend.api_keys.delete_api_key("k1") is False
    assert await backend.api_keys.api_key_status("k1") is None


async def test_last_use_is_written_at_most_as_often_as_asked(backend: Backend) -> None:
    await backend.identity.create_user(UserRecord("bob", "h", "user", "ta", T0))
    await backend.api_keys.create_api_key(_key("k1"))
    await backend.api_keys.touch_api_key("k1", T0 + 100, unless_since=T0 + 40)
    assert (await backend.api_keys.get_api_key("k1")).last_used == T0 + 100  # type: ignore[union-attr]
    await backend.api_keys.touch_api_key("k1", T0 + 200, unless_since=T0 + 100)  # used within the minute
    assert (await backend.api_keys.get_api_key("k1")).last_used == T0 + 100  # type: ignore[union-attr]
    await backend.api_keys.touch_api_key("k1", T0 + 300, unless_since=T0 + 150)
    assert (await backend.api_keys.get_api_key("k1")).last_used == T0 + 300  # type: ignore[union-attr]
    await backend.api_keys.touch_api_key("gone", T0, unless_since=T0)  # no such key: nothing happens


async def test_a_deleted_creators_keys_go_with_it(backend: Backend) -> None:
    await backend.identity.create_user(UserRecord("bob", "h", "user", "ta", T0))
    await backend.api_keys.create_api_key(_key("k1"))
    assert await backend.identity.delete_user("bob") is True
    assert await backend.api_keys.api_key_status("k1") is None
    # A later user of the same name does not inherit them.
    await backend.identity.create_user(UserRecord("bob", "h", "user", "ta", T0))
    assert await backend.api_keys.api_key_status("k1") is None
    assert await backend.api_keys.list_api_keys() == []


async def test_disabling_a_user_raises_its_token_version_and_enabling_keeps_it(backend: Backend) -> None:
    identity = backend.identity
    await identity.create_user(UserRecord("bob", "h", "user", "ta", T0))
    disabled = await identity.update_user("bob", disabled=True)
    assert disabled is not None and disabled.disabled and disabled.token_version == 1
    assert (await identity.get_user("bob")) == disabled
    assert [u.disabled for u in await identity.list_users("ta")] == [True]
    enabled = await identity.update_user("bob", disabled=False)
    assert enabled is not None and not enabled.disabled and enabled.token_version == 2
    # Other changes leave it as it is.
    await identity.update_user("bob", disabled=True)
    assert (await identity.update_user("bob", role="admin")).disabled  # type: ignore[union-attr]


async def test_tenants_are_renamed_and_deleted_only_when_empty(backend: Backend) -> None:
    registry = backend.registry
    await with_devices(backend, "d1", tenant="tx")
    renamed = await registry.rename_tenant("tx", "Renamed")
    assert renamed == Tenant(id="tx", name="Renamed", created=CREATED)
    assert await registry.get_tenant("tx") == renamed
    assert await registry.rename_tenant("nope", "x") is None
    await backend.identity.create_user(UserRecord("bob", "h", "user", "tx", T0))
    assert await registry.delete_tenant("tx") == {"devices": 1, "users": 1}
    assert await registry.get_tenant("tx") == renamed  # nothing deleted
    assert await registry.delete_device("d1") is True
    assert await backend.identity.delete_user("bob") is True
    assert await registry.delete_tenant("tx") == {}
    assert await registry.get_tenant("tx") is None
    assert await registry.delete_tenant("tx") is None
