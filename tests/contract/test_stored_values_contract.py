"""What every backend keeps exactly as given, and finds as the SQLite store does: label keys and state documents
with any characters, substring search, references to tenants, and sign-in locks after the first."""

from __future__ import annotations

import asyncio

import pytest

from contracts.devices import Tenant
from hub.errors import InvalidInput
from hub.store.backend import Backend
from hub.store.provisioning import ProvisioningTokenRecord
from hub.store.registry import DeviceQuery
from hub.store.state import StateKind
from tests.contract.support import CREATED, T0, device, with_devices

pytestmark = pytest.mark.timeout(30)

# Label keys may hold "." and "/", values "=": none of it may change how they are stored or found.
LABELS = {"site.zone": "north/1", "k8s.io/app": "a=b", "plain": ""}
# A device's documents may hold any key, "." and a leading "$" included.
ODD_DOC = {"a.b": 1, "$x": {"c.d": [1, {"$e": None}]}, "": "empty key"}


async def test_search_is_a_literal_case_insensitive_substring_of_the_id_or_the_name(backend: Backend) -> None:
    await with_devices(backend, "sensor_a1", "sensor-b2", "gw.x", "gwxx")
    await with_devices(backend, "sensor_c3", tenant="other")

    async def found(search: str, **filters: object) -> tuple[list[str], int]:
        page, total = await backend.registry.list_devices(DeviceQuery(search=search, **filters))  # type: ignore[arg-type]
        return [d.id for d in page], total

    assert await found("SENSOR_") == (["sensor_a1", "sensor_c3"], 2)  # "_" is no wildcard
    assert await found("sensor_", tenant="t1") == (["sensor_a1"], 1)
    assert await found("r-B") == (["sensor-b2"], 1)
    assert await found("gw.") == (["gw.x"], 1)  # "." is no wildcard
    assert await found("%") == ([], 0)
    assert await found("sensor", limit=1, offset=1) == (["sensor_a1"], 3)  # ids order: sensor-b2, sensor_a1, ...


async def test_labels_keep_any_key_and_are_found_by_it(backend: Backend) -> None:
    await with_devices(backend, "plain")
    await backend.registry.create_device(device("d1", labels=LABELS), "h")
    assert (await backend.registry.get_device("d1")).labels == LABELS  # type: ignore[union-attr]
    for key, value in LABELS.items():
        page, total = await backend.registry.list_devices(DeviceQuery(label=(key, value)))
        assert ([d.id for d in page], total) == (["d1"], 1)
    page, _ = await backend.registry.list_devices(DeviceQuery(label=("k8s.io/app", "a")))
    assert page == []


async def test_state_and_heartbeat_documents_keep_any_key(backend: Backend) -> None:
    await with_devices(backend, "d1")
    await backend.state.put_state("d1", StateKind.REPORTED, ODD_DOC, T0)
    assert (await backend.state.get_state("d1", StateKind.REPORTED)).doc == ODD_DOC  # type: ignore[union-attr]
    await backend.nodes.put_heartbeat("d1", ODD_DOC, T0)
    assert (await backend.nodes.get_heartbeat("d1")).doc == ODD_DOC  # type: ignore[union-attr]


async def test_devices_and_tokens_refer_to_a_tenant_that_exists(backend: Backend) -> None:
    with pytest.raises(InvalidInput):
        await backend.registry.create_device(device("d1", "nope"), "h")
    assert await backend.registry.get_device("d1") is None
    token = ProvisioningTokenRecord("pt-1", "nope", "h", T0, 1, {}, "admin", T0)
    with pytest.raises(InvalidInput):
        await backend.provisioning.create_token(token)
    assert await backend.provisioning.get_token("pt-1") is None


async def test_a_tenant_made_again_starts_without_the_history_of_the_former(backend: Backend) -> None:
    await with_devices(backend, tenant="tx")
    token = ProvisioningTokenRecord("pt-1", "tx", "h", T0 + 1000, 1, LABELS, "admin", T0)
    await backend.provisioning.create_token(token)
    assert await backend.provisioning.get_token("pt-1") == token
    assert await backend.registry.delete_tenant("tx") == {}
    await backend.registry.create_tenant(Tenant(id="tx", name="again", created=CREATED))
    assert await backend.provisioning.list_tokens("tx") == []


async def test_a_key_locks_again_after_its_cool_down_exactly_once(backend: Backend) -> None:
    async def fail(at: int) -> int | None:
        return await backend.sign_ins.fail("user:alice", at, window_ms=60_000, limit=3, cooldown_ms=1000)

    assert [await fail(T0 + i) for i in range(3)] == [None, None, T0 + 2 + 1000]
    later = T0 + 5000
    assert await backend.sign_ins.locked_until(["user:alice"], later) is None
    results = await asyncio.gather(*(fail(later) for _ in range(3)))
    assert sorted(results, key=lambda r: r is None) == [later + 1000, None, None]
    assert await backend.sign_ins.locked_until(["user:alice"], later + 1) == later + 1000
