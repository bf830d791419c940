"""The profile store's contract (profiles per tenant, who names them, the change counter): every backend passes it."""

from __future__ import annotations

import pytest

from contracts.alarms import Operator, Rule, RuleKind
from contracts.profiles import KeySpec, Profile, ValueType
from hub.errors import Conflict
from hub.store.backend import Backend
from hub.store.registry import DevicePatchRecord
from tests.contract.support import T0, device, with_devices

pytestmark = pytest.mark.timeout(30)


def _profile(profile_id: str, tenant: str = "t1", **extra: object) -> Profile:
    return Profile(id=profile_id, tenant=tenant, name=profile_id.upper(), created=T0, updated=T0, **extra)


def _rule(rule_id: str, profile: str, tenant: str = "t1") -> Rule:
    return Rule(
        id=rule_id,
        tenant=tenant,
        name=rule_id,
        profile=profile,
        key="temp",
        kind=RuleKind.THRESHOLD,
        op=Operator.GT,
        value=30.0,
        created=T0,
        updated=T0,
    )


async def test_profiles_are_stored_whole_per_tenant(backend: Backend) -> None:
    sensor = _profile(
        "sensor",
        description="a room sensor",
        keys={"temp": KeySpec(unit="°C", min=-40, max=85), "door": KeySpec(type=ValueType.BOOLEAN)},
        labels={"site": "north"},
        strict=True,
    )
    await backend.profiles.add_profile(sensor)
    await backend.profiles.add_profile(_profile("sensor", tenant="t2"))
    await backend.profiles.add_profile(_profile("meter"))
    with pytest.raises(Conflict):
        await backend.profiles.add_profile(_profile("sensor", description="again"))
    assert await backend.profiles.get_profile("t1", "sensor") == sensor
    assert await backend.profiles.get_profile("t3", "sensor") is None
    assert await backend.profiles.get_profile("t1", "ghost") is None
    assert [p.id for p in await backend.profiles.list_profiles("t1")] == ["meter", "sensor"]
    assert [(p.tenant, p.id) for p in await backend.profiles.list_profiles(None)] == [
        ("t1", "meter"),
        ("t1", "sensor"),
        ("t2", "sensor"),
    ]

    changed = sensor.model_copy(update={"keys": {}, "strict": False, "updated": T0 + 1})
    assert await backend.profiles.put_profile(changed)
    assert await backend.profiles.get_profile("t1", "sensor") == changed
    assert not await backend.profiles.put_profile(_profile("ghost"))
    assert (await backend.profiles.get_profile("t2", "sensor")) == _profile("sensor", tenant="t2")

    assert await backend.profiles.delete_profile("t1", "sensor")
    assert not await backend.profiles.delete_profile("t1", "sensor")
    assert await backend.profiles.get_profile("t1", "sensor") is None
    assert await backend.profiles.get_profile("t2", "sensor") is not None


async def test_profile_users_count_the_devices_and_rules_of_the_tenant(backend: Backend) -> None:
    await with_devices(backend, tenant="t1")
    await with_devices(backend, tenant="t2")
    await backend.profiles.add_profile(_profile("sensor"))
    for device_id in ("d1", "d2"):
        await backend.registry.create_device(device(device_id, profile="sensor"), "h")
    await backend.registry.create_device(device("d3"), "h")
    await backend.registry.create_device(device("e1", "t2", profile="sensor"), "h")
    await backend.alarms.add_rule(_rule("hot", "sensor"))
    await backend.alarms.add_rule(_rule("hot", "sensor", tenant="t2"))
    await backend.alarms.add_rule(_rule("other", "meter"))
    assert await backend.profiles.profile_users("t1", "sensor") == (2, 1)
    assert await backend.profiles.profile_users("t1", "meter") == (0, 1)
    assert await backend.profiles.profile_users("t1", "ghost") == (0, 0)
    await backend.registry.update_device("d1", DevicePatchRecord(profile=""))
    await backend.registry.delete_device("d2")
    await backend.alarms.delete_rule("t1", "hot")
    assert await backend.profiles.profile_users("t1", "sensor") == (0, 0)
    assert await backend.profiles.profile_users("t2", "sensor") == (1, 1)


async def test_changed_changes_with_every_profile_and_every_device_profile(backend: Backend) -> None:
    await with_devices(backend)
    seen = [await backend.profiles.changed()]

    async def changed() -> None:
        seen.append(await backend.profiles.changed())
        assert seen[-1] not in seen[:-1], seen

    await backend.profiles.add_profile(_profile("sensor"))
    await changed()
    await backend.profiles.put_profile(_profile("sensor", strict=True))
    await changed()
    await backend.registry.create_device(device("d1", profile="sensor"), "h")
    await changed()
    await backend.registry.update_device("d1", DevicePatchRecord(profile="meter"))
    await changed()
    await backend.registry.update_device("d1", DevicePatchRecord(profile=""))
    await changed()
    await backend.registry.update_device("d1", DevicePatchRecord(profile="sensor"))
    await changed()
    await backend.registry.delete_device("d1")
    await changed()
    await backend.profiles.delete_profile("t1", "sensor")
    await changed()
