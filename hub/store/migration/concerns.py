"""How each kind of stored object is copied from a SQLite store to a MongoDB store (``fieldhub store migrate``).

Objects are read through the source's store interfaces. They are written through the target's interfaces where
those keep everything (ids, times, credential hashes): what is stored already is brought up to date, and what the
source no longer holds (deleted since an earlier run) is deleted from the target. Events, logs and audit records:
:mod:`hub.store.migration.numbered`; telemetry: :mod:`hub.store.migration.telemetry`. Every write is idempotent,
so a run killed anywhere and run again leaves one copy of everything.

Not copied: user sessions (users sign in again), sign-in failure counts and locks (short-lived), leases (live),
and the outbox (the target's starts empty with no cursors: positions in one store's outbox mean nothing in
another's, so followers must have caught up before the hub stops).
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from contracts.alarms import Alarm, Rule
from contracts.devices import DeviceKind
from contracts.profiles import Profile
from hub.errors import Conflict
from hub.store.alarms import AlarmQuery
from hub.store.api_keys import ApiKeyRecord
from hub.store.apps import AppVersionRecord, DeploymentQuery, DeploymentRecord
from hub.store.channels import ChannelRecord
from hub.store.events import NAMED_CURSORS, Webhook
from hub.store.identity import UserRecord
from hub.store.migration.context import Copy, Run, all_devices
from hub.store.migration.numbered import audit, events, logs
from hub.store.migration.telemetry import copy_telemetry
from hub.store.provisioning import ProvisioningTokenRecord
from hub.store.registry import DevicePatchRecord, DeviceQuery
from hub.store.state import StateKind

T = TypeVar("T")


async def _created(create: Awaitable[object]) -> bool:
    """Whether ``create`` stored the object (``False``: the target holds it already)."""
    try:
        await create
    except Conflict:
        return False
    return True


def _by(field: str) -> Callable[[Any], Hashable]:
    return operator.attrgetter(field)


async def _mirror(
    found: Sequence[T],
    held: Sequence[T],
    ident: Callable[[T], Hashable],
    put: Callable[[T, T | None], Awaitable[None]],
    delete: Callable[[T], Awaitable[object]],
) -> None:
    """Make the target's objects of a kind (``held``) those the source holds (``found``): ``put`` each that is new
    (with ``None``) or changed (with the target's), ``delete`` each that the source no longer holds (deleted there
    since an earlier run: a revoked key or a removed user must not live on in the copy)."""
    mine = {ident(obj): obj for obj in held}
    for obj in found:
        were = mine.pop(ident(obj), None)
        if were != obj:
            await put(obj, were)
    for gone in mine.values():
        await delete(gone)


async def tenants(run: Run) -> AsyncIterator[int]:
    found = await run.source.registry.list_tenants()
    if not run.dry:
        for tenant in found:
            if not await _created(run.target.registry.create_tenant(tenant)):
                await run.target.registry.rename_tenant(tenant.id, tenant.name)
                await run.target.registry.set_tenant_retention(tenant.id, tenant.telemetry_days, tenant.logs_days)
    yield len(found)


async def devices(run: Run) -> AsyncIterator[int]:
    """Devices with their credential hashes, so that they sign in to the new store with their old secrets; one
    deleted on the source since an earlier run is deleted (with its data) on the target."""
    secrets = {secret.device_id: secret for secret in await run.source.registry.list_device_secrets()}
    async for page in all_devices(run.source, run.batch):
        if not run.dry:
            for device in page:
                if (secret := secrets.get(device.id)) is None:
                    continue  # created after the secrets were read: the next run copies it
                target = run.target.registry
                if not await _created(target.create_device(device, secret.secret_hash, secret.broker_hash)):
                    patch = DevicePatchRecord(device.name, device.labels, device.enabled, device.profile or "")
                    await target.update_device(device.id, patch)
                    await target.set_device_secret(device.id, secret.secret_hash, secret.broker_hash)
        yield len(page)
    if not run.dry:
        # Devices are listed after their secrets: one that has a secret is not deleted, whenever it was created.
        held = [device.id async for page in all_devices(run.target, run.batch) for device in page]
        for device_id in held:
            if device_id not in secrets:
                await run.target.registry.delete_device(device_id)


async def heartbeats(run: Run) -> AsyncIterator[int]:
    """Gateways' latest heartbeats: without one, a node running instances would count as dead when the hub starts
    on the new store (and its instances be placed elsewhere) until it next reports."""
    offset = 0
    query = DeviceQuery(kind=DeviceKind.GATEWAY, limit=run.batch)
    while page := (await run.source.registry.list_devices(dataclasses.replace(query, offset=offset)))[0]:
        offset += len(page)
        beats = [(node.id, beat) for node in page if (beat := await run.source.nodes.get_heartbeat(node.id))]
        if not run.dry:
            for node_id, beat in beats:
                held = await run.target.nodes.get_heartbeat(node_id)
                if held is None or held.received < beat.received:
                    await run.target.nodes.put_heartbeat(node_id, beat.doc, beat.received)
        yield len(beats)


async def users(run: Run) -> AsyncIterator[int]:
    found = await run.source.identity.list_users(None)
    if not run.dry:
        target = run.target.identity

        async def put(user: UserRecord, held: UserRecord | None) -> None:
            # Replacing a user raises its token version, which ends no session: sessions are not copied.
            await (target.create_user(user) if held is None else target.put_user(user))

        await _mirror(
            found, await target.list_users(None), _by("username"), put, lambda u: target.delete_user(u.username)
        )
    yield len(found)


async def api_keys(run: Run) -> AsyncIterator[int]:
    """API keys; one revoked on the source since an earlier run is revoked on the target too."""
    found = await run.source.api_keys.list_api_keys()
    if not run.dry:
        target = run.target.api_keys

        async def put(key: ApiKeyRecord, held: ApiKeyRecord | None) -> None:
            if held is not None:  # used since (last used): no update of the rest exists, so it is stored anew
                await target.delete_api_key(key.id)
            await target.create_api_key(key)

        await _mirror(found, await target.list_api_keys(), _by("id"), put, lambda k: target.delete_api_key(k.id))
    yield len(found)


async def provisioning_tokens(run: Run) -> AsyncIterator[int]:
    """Provisioning tokens with the uses they have left."""
    found = await run.source.provisioning.list_tokens(None)
    if not run.dry:
        target = run.target.provisioning

        async def put(token: ProvisioningTokenRecord, held: ProvisioningTokenRecord | None) -> None:
            if held is not None:
                await target.delete_token(token.id)
            await target.create_token(token)

        await _mirror(found, await target.list_tokens(None), _by("id"), put, lambda t: target.delete_token(t.id))
    yield len(found)


async def profiles(run: Run) -> AsyncIterator[int]:
    found = await run.source.profiles.list_profiles(None)
    if not run.dry:
        target = run.target.profiles

        async def put(profile: Profile, held: Profile | None) -> None:
            await (target.add_profile(profile) if held is None else target.put_profile(profile))

        async def delete(profile: Profile) -> None:
            await target.delete_profile(profile.tenant, profile.id)

        await _mirror(found, await target.list_profiles(None), lambda p: (p.tenant, p.id), put, delete)
    yield len(found)


async def rules(run: Run) -> AsyncIterator[int]:
    found = await run.source.alarms.list_rules(None)
    if not run.dry:
        target = run.target.alarms

        async def put(rule: Rule, held: Rule | None) -> None:
            await (target.add_rule(rule) if held is None else target.put_rule(rule))

        async def delete(rule: Rule) -> None:
            await target.delete_rule(rule.tenant, rule.id)

        await _mirror(found, await target.list_rules(None), lambda r: (r.tenant, r.id), put, delete)
    yield len(found)


async def alarms(run: Run) -> AsyncIterator[int]:
    """Alarms (an open one takes its rule's one-open place on its device again; one copied before is moved on as
    its source was) and pending rule conditions."""
    offset = 0
    while page := (await run.source.alarms.query_alarms(AlarmQuery(limit=run.batch, offset=offset)))[0]:
        offset += len(page)
        if not run.dry:
            for alarm in page:
                if not await _created(run.target.alarms.open_alarm(alarm)):
                    await _catch_up(run, alarm)
        yield len(page)
    pending = await run.source.alarms.pending()
    if not run.dry:
        await run.target.alarms.set_pending(pending, [])
    yield len(pending)


async def _catch_up(run: Run, alarm: Alarm) -> None:
    """Move the target's copy of ``alarm`` through the changes (acknowledged, cleared) it has not seen yet."""
    held = await run.target.alarms.get_alarm(alarm.id, None)
    for change in alarm.history:
        if held is None:
            return
        if change not in held.history:
            held = await run.target.alarms.transition(alarm.id, None, (held.state,), change)


async def apps(run: Run) -> AsyncIterator[int]:
    """App versions (their packages stay in the blob store, which the move leaves where it is)."""
    versions = [version for app in await run.source.apps.list_apps(None) for version in app.versions]
    if not run.dry:
        for version in versions:
            await _created(run.target.apps.add_version(version))
    yield len(versions)


async def deployments(run: Run) -> AsyncIterator[int]:
    """Deployments with their timelines: created with their first transition, then moved through the rest (those
    the target lacks) and given their current version, replicas, placement and instances. Deployments and app
    versions deleted on the source since an earlier run go from the target too (a hub must not run them)."""
    found = await run.source.apps.list_deployments(DeploymentQuery())
    if not run.dry:
        target = run.target.apps

        async def put(deployment: DeploymentRecord, held: DeploymentRecord | None) -> None:
            if held is None:
                first = deployment.timeline[0]
                with contextlib.suppress(Conflict):  # created by the run that was stopped
                    await target.create_deployment(dataclasses.replace(deployment, status=first.status), first.reason)
                if (held := await target.get_deployment(deployment.id)) is None:
                    return
            for change in deployment.timeline[len(held.timeline) :]:  # the target's is a prefix of the source's
                await target.update_status(deployment.id, change)
            await target.set_version(deployment.id, deployment.version, deployment.updated)
            await target.set_replicas(deployment.id, deployment.replicas, deployment.updated)
            await target.set_placement(deployment.id, deployment.placement, deployment.updated)
            await target.set_instances(deployment.id, deployment.instances, deployment.updated)

        async def delete(deployment: DeploymentRecord) -> None:
            await target.delete_deployment(deployment.id)

        held = await target.list_deployments(DeploymentQuery())
        await _mirror(found, held, _by("id"), put, delete)
        versions = {_version_key(v) for app in await run.source.apps.list_apps(None) for v in app.versions}
        for app in await target.list_apps(None):
            for version in app.versions:
                if _version_key(version) not in versions:
                    await target.delete_version(*_version_key(version))
    yield len(found)


def _version_key(version: AppVersionRecord) -> tuple[str, str, str]:
    return version.tenant, version.name, version.version


async def deleted_tenants(run: Run) -> AsyncIterator[int]:
    """Tenants deleted on the source since an earlier run: deleted on the target once what they held is gone from
    it (the concerns before remove what the source no longer holds)."""
    kept = {tenant.id for tenant in await run.source.registry.list_tenants()}
    gone = [tenant.id for tenant in await run.target.registry.list_tenants() if tenant.id not in kept]
    if not run.dry:
        for tenant_id in gone:
            await run.target.registry.delete_tenant(tenant_id)
    yield len(gone)


async def channels(run: Run) -> AsyncIterator[int]:
    """Notification channels (how far notifications went is an events' cursor: :func:`cursors`)."""
    found = await run.source.channels.list_channels(None)
    if not run.dry:
        target = run.target.channels

        async def put(record: ChannelRecord, held: ChannelRecord | None) -> None:
            await (target.add_channel(record) if held is None else target.put_channel(record))

        async def delete(record: ChannelRecord) -> None:
            await target.delete_channel(record.channel.id, None)

        await _mirror(found, await target.list_channels(None), lambda c: c.channel.id, put, delete)
    yield len(found)


async def webhooks(run: Run) -> AsyncIterator[int]:
    found = await run.source.events.webhooks(None)
    if not run.dry:
        target = run.target.events

        async def put(webhook: Webhook, held: Webhook | None) -> None:
            if held is not None:  # its delivery counts moved on: no update of them exists, so it is stored anew
                await target.delete_webhook(webhook.id, None)
            await target.add_webhook(webhook)

        async def delete(webhook: Webhook) -> None:
            await target.delete_webhook(webhook.id, None)

        await _mirror(found, await target.webhooks(None), _by("id"), put, delete)
    yield len(found)


async def cursors(run: Run) -> AsyncIterator[int]:
    """The named cursors of the consumers of events (webhook deliveries, notifications): events keep their ids, so
    each resumes on the target where it stopped on the source."""
    found = {name: event for name in NAMED_CURSORS if (event := await run.source.events.get_cursor(name)) is not None}
    if not run.dry:
        for name, event in found.items():
            await run.target.events.set_cursor(name, event)
    yield len(found)


async def state(run: Run) -> AsyncIterator[int]:
    """Desired and reported state; a document the target holds as it is keeps its version."""
    for kind in StateKind:
        found = await run.source.state.list_states(kind)
        if not run.dry:
            for device_id, record in found:
                held = await run.target.state.get_state(device_id, kind)
                if held is None or (held.doc, held.updated) != (record.doc, record.updated):
                    await run.target.state.put_state(device_id, kind, record.doc, record.updated)
        yield len(found)


#: Every concern in the order it is copied: tenants before what lives in them, devices before their data, users
#: before their API keys, events before the cursors over them. Telemetry last: it is the bulk.
CONCERNS: dict[str, Copy] = {
    "tenants": tenants,
    "devices": devices,
    "heartbeats": heartbeats,
    "users": users,
    "api_keys": api_keys,
    "provisioning_tokens": provisioning_tokens,
    "profiles": profiles,
    "rules": rules,
    "alarms": alarms,
    "apps": apps,
    "deployments": deployments,
    "events": events,
    "channels": channels,
    "webhooks": webhooks,
    "cursors": cursors,
    "state": state,
    "logs": logs,
    "audit": audit,
    "deleted_tenants": deleted_tenants,
    "telemetry": copy_telemetry,
}
