"""Mosquitto's dynamic security plugin: device accounts and ACLs, kept in step with the registry.

Each device gets a client (username and client id = device id) and a role holding exactly the
rules of :func:`contracts.topics.device_acl`; everything else is denied by default. Live changes
go through the plugin's control topic; a managed broker instead starts from a configuration file
written from the registry (:func:`config_document`), which is the full reconcile.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import orjson

from contracts.errors import ErrorCode, FieldhubError
from contracts.ids import check_id
from contracts.topics import ROOT, device_acl
from hub.errors import BrokerUnavailable
from hub.security.passwords import BrokerHash, broker_hash
from hub.store.registry import DeviceSecret, RegistryStore

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
DEVICE_TEXTNAME = "fieldhub device"
SERVICE_ROLE = "fieldhub-service"
_ROLE_PREFIX = "fieldhub-device-"
_TIMEOUT_S = 10.0
#: More seconds to wait per command of a message: Mosquitto 2.0 rewrites its whole account file after every
#: command, even of one message (~35 ms with 2,000 devices, growing with them).
_TIMEOUT_PER_COMMAND_S = 0.25
#: Entries per page of a listing: a device's role is ~1.3 kB of ACLs, so the roles of 100,000 devices in one
#: answer would be 130 MB, built whole in the broker's memory.
_LIST_PAGE = 1_000
#: Commands per message of a reconcile: bounds a message and its wait however far the broker has drifted.
_RECONCILE_BATCH = 1_000
#: A reconcile's answers that mean another process changed the same account between listing and command.
_RECONCILE_RACES = (
    "Client not found",
    "Role not found",
    "Client already exists",
    "Role already exists",
    "Client is already in this role",
)

Publish = Callable[[str, bytes], Awaitable[None]]


def role_name(device_id: str) -> str:
    return f"{_ROLE_PREFIX}{device_id}"


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """The plugin's form of the device ACL: send and subscribe as the embedded broker allows, receive own downlink.

    What a device may subscribe to is exactly what it may receive, so a new downlink topic needs no rule here.
    """
    # Built once and filled in per device: the sync on start writes it for every device (100,000 of them).
    prefix = f"{ROOT}/{check_id(device_id, 'device id')}"
    return [{**acl, "topic": prefix + acl["topic"][len(_TEMPLATE_PREFIX) :]} for acl in _acl_template()]


def _acl_set(acls: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, str, int, bool]]:
    """A role's ACLs as the plugin keeps them: one per type and topic, priority 0 and deny unless given."""
    return frozenset((a["acltype"], a["topic"], a.get("priority", 0), a.get("allow", False)) for a in acls)


#: The device whose ACL is the template of every other's (every topic of it starts with its prefix).
_TEMPLATE_PREFIX = f"{ROOT}/device"


@functools.cache
def _acl_template() -> tuple[dict[str, Any], ...]:
    rules = device_acl(_TEMPLATE_PREFIX.removeprefix(f"{ROOT}/"))
    acls = []
    for action, topic in rules:
        acltype = "publishClientSend" if action == "publish" else "subscribeLiteral"
        acls.append({"acltype": acltype, "topic": topic, "allow": True})
    acls += [
        {"acltype": "publishClientReceive", "topic": topic, "allow": True}
        for action, topic in rules
        if action == "subscribe"
    ]
    return tuple(acls)


def _service_role() -> dict[str, Any]:
    """The hub's own account: administers the plugin, reads every device topic, publishes downlink."""
    acls = [
        {"acltype": "publishClientSend", "topic": f"{ROOT}/#", "allow": True},
        {"acltype": "publishClientSend", "topic": CONTROL_TOPIC, "allow": True},
    ]
    # "#" does not match topics that start with "$": those need rules of their own.
    for topic in ("#", "$CONTROL/dynamic-security/#", "$SYS/#"):
        for acltype in ("publishClientReceive", "subscribePattern", "unsubscribePattern"):
            acls.append({"acltype": acltype, "topic": topic, "allow": True})
    return {"rolename": SERVICE_ROLE, "acls": acls}


def _client(username: str, hashed: str | None, roles: list[str], *, disabled: bool, textname: str) -> dict[str, Any]:
    client: dict[str, Any] = {
        "username": username,
        "textname": textname,
        "roles": [{"rolename": role} for role in roles],
        "disabled": disabled,
    }
    if hashed is not None:
        parsed = BrokerHash.decode(hashed)
        client.update(password=parsed.digest, salt=parsed.salt, iterations=parsed.iterations)
    return client


def config_document(service_user: str, service_password: str, devices: Iterable[DeviceSecret]) -> dict[str, Any]:
    """The plugin's configuration file for a managed broker: the service account and every device."""
    clients = [
        _client(service_user, broker_hash(service_password), [SERVICE_ROLE], disabled=False, textname="fieldhub")
    ]
    roles = [_service_role()]
    for device in devices:
        # A device registered before the hub kept broker hashes cannot log in until its secret is rotated.
        client = _client(
            device.device_id,
            device.broker_hash,
            [role_name(device.device_id)],
            disabled=not device.enabled,
            textname=DEVICE_TEXTNAME,
        )
        client["clientid"] = device.device_id
        clients.append(client)
        roles.append({"rolename": role_name(device.device_id), "acls": device_acls(device.device_id)})
    access = {"publishClientSend": False, "publishClientReceive": False, "subscribe": False, "unsubscribe": True}
    return {"clients": clients, "groups": [], "roles": roles, "defaultACLAccess": access}


def _create_role(device_id: str) -> dict[str, Any]:
    return {"command": "createRole", "rolename": role_name(device_id), "acls": device_acls(device_id)}


def _create_client(device_id: str, password: str | None, *, disabled: bool) -> list[dict[str, Any]]:
    """A device's client holding its role (which must exist by then), disabled at once if ``disabled``."""
    client: dict[str, Any] = {
        "command": "createClient",
        "username": device_id,
        "clientid": device_id,
        "textname": DEVICE_TEXTNAME,
        "roles": [{"rolename": role_name(device_id)}],
    }
    if password is not None:
        client["password"] = password
    return [client, {"command": "disableClient", "username": device_id}] if disabled else [client]


def _create(device_id: str, password: str | None, *, disabled: bool) -> list[dict[str, Any]]:
    return [_create_role(device_id), *_create_client(device_id, password, disabled=disabled)]


def _repairs(
    device: DeviceSecret, client: Mapping[str, Any] | None, acls: frozenset[tuple[str, str, int, bool]] | None
) -> list[dict[str, Any]]:
    """The commands that bring one device's role and client to what the registry says: none when in step.

    ``client`` is the device's client as a verbose ``listClients`` shows it, ``acls`` its role's
    (:func:`_acl_set`); ``None`` when the broker has none.
    """
    device_id, role = device.device_id, role_name(device.device_id)
    commands: list[dict[str, Any]] = []
    role_in_step = acls == _acl_set(device_acls(device_id))
    if not role_in_step:
        if acls is not None:
            # This also takes the role from the client, which gets it back below.
            commands.append({"command": "deleteRole", "rolename": role})
        commands.append(_create_role(device_id))
    if client is None:
        return commands + _create_client(device_id, None, disabled=not device.enabled)
    if not role_in_step or all(held.get("rolename") != role for held in client.get("roles", [])):
        commands.append({"command": "addClientRole", "username": device_id, "rolename": role})
    if client.get("disabled", False) == device.enabled:
        commands.append({"command": "enableClient" if device.enabled else "disableClient", "username": device_id})
    return commands


class DynsecError(FieldhubError):
    """The plugin refused a command; ``message`` is its own error text."""

    code = ErrorCode.CONFLICT


class DynsecControl:
    """Sends commands to the plugin and waits for the answers (matched by correlation data).

    A command is only sent while the link is up: queued for a later reconnect, it could
    change the broker after the hub had already reported the change as failed.
    """

    def __init__(self, publish: Publish, connected: Callable[[], bool]) -> None:
        self._publish = publish
        self._connected = connected
        self._ids = itertools.count(1)
        # Every process administering the broker gets every answer: keys of its own, never another's.
        self._prefix = f"fh-{secrets.token_hex(4)}"
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def on_response(self, payload: bytes) -> None:
        """Feed every message of :data:`RESPONSE_TOPIC` here."""
        try:
            responses = orjson.loads(payload).get("responses", [])
        except (orjson.JSONDecodeError, AttributeError):
            log.warning("unreadable answer on %s", RESPONSE_TOPIC)
            return
        for response in responses:
            future = self._waiting.pop(str(response.get("correlationData")), None)
            if future is not None and not future.done():
                future.set_result(response)

    async def run(self, *commands: dict[str, Any], allow: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Run ``commands`` in one message; errors whose text is in ``allow`` are answers, others raise."""
        if not self._connected():
            raise BrokerUnavailable("the MQTT broker is not reachable; nothing was changed")
        loop = asyncio.get_running_loop()
        futures = []
        for command in commands:
            key = f"{self._prefix}-{next(self._ids)}"
            futures.append(self._waiting.setdefault(key, loop.create_future()))
            command["correlationData"] = key
        try:
            async with asyncio.timeout(_TIMEOUT_S + _TIMEOUT_PER_COMMAND_S * len(commands)):
                await self._publish(CONTROL_TOPIC, orjson.dumps({"commands": list(commands)}))
                answers = await asyncio.gather(*futures)
        except (TimeoutError, ConnectionError) as exc:
            raise BrokerUnavailable("the MQTT broker did not answer an account change") from exc
        finally:
            for command in commands:
                self._waiting.pop(command["correlationData"], None)
        allowed = set(allow)
        for command, answer in zip(commands, answers, strict=True):
            error = answer.get("error")
            if error and error not in allowed:
                raise DynsecError(f"{command['command']}: {error}")
        return answers


class DynsecAccounts:
    """Implements :class:`hub.broker.base.BrokerAccounts` on the plugin.

    The plugin disconnects a client at once when its password changes or it is disabled
    or deleted, which is what the registry promises.
    """

    def __init__(self, control: DynsecControl) -> None:
        self._control = control

    async def _apply(self, *commands: dict[str, Any], allow: Iterable[str] = ()) -> list[dict[str, Any]]:
        try:
            return await self._control.run(*commands, allow=allow)
        except DynsecError as exc:
            raise BrokerUnavailable(f"the MQTT broker refused an account change: {exc}") from exc

    async def devices_created(self, devices: Mapping[str, str]) -> None:
        # One message however many: the plugin still saves its file after each command, but the answers
        # come back together (three times the rate of a message per device; docs/benchmarks.md).
        commands = [c for device_id, secret in devices.items() for c in _create(device_id, secret, disabled=False)]
        await self._apply(*commands)

    async def secret_rotated(self, device_id: str, secret: str, *, enabled: bool) -> None:
        set_password = {"command": "setClientPassword", "username": device_id, "password": secret}
        try:
            answers = await self._control.run(set_password, allow=("Client not found",))
        except DynsecError as exc:
            raise BrokerUnavailable(f"the MQTT broker refused an account change: {exc}") from exc
        if answers[0].get("error"):
            # Registered before the broker was in use: the rotation is what brings it in.
            await self._apply(*_create(device_id, secret, disabled=not enabled), allow=("Role already exists",))

    async def device_enabled(self, device_id: str, enabled: bool) -> None:
        command = "enableClient" if enabled else "disableClient"
        await self._apply({"command": command, "username": device_id})

    async def device_deleted(self, device_id: str) -> None:
        await self._apply(
            {"command": "deleteClient", "username": device_id},
            {"command": "deleteRole", "rolename": role_name(device_id)},
            allow=("Client not found", "Role not found"),
        )

    async def _listing(self, command: str, key: str) -> list[dict[str, Any]]:
        """Every entry of a verbose ``listClients`` or ``listRoles``, a page per message.

        The plugin keeps entries sorted by name and pages by position: one created or deleted meanwhile
        may show twice or not at all, which the reconcile's commands allow for (:data:`_RECONCILE_RACES`).
        """
        entries: list[dict[str, Any]] = []
        while True:
            (answer,) = await self._control.run(
                {"command": command, "verbose": True, "count": _LIST_PAGE, "offset": len(entries)}
            )
            data = answer.get("data", {})
            page = data.get(key, [])
            entries += page
            if len(page) < _LIST_PAGE or len(entries) >= data.get("totalCount", 0):
                return entries

    async def reconcile(self, store: RegistryStore) -> int:
        """Bring an external broker in step with the registry; return how many devices lack a password there.

        Only what differs is sent: a role whose ACLs differ is written again, a client gets back its role
        and the enabled flag the registry says, and device clients the registry no longer knows are
        deleted with their roles. A broker in step gets no command that changes it: Mosquitto 2.0 saves
        its whole account file after each one, and a changed role disconnects its client. A device
        missing on the broker is created without a password: the plugin takes only clear-text
        passwords, which the hub never keeps, so it can log in after a rotation.
        """
        # The broker first: a device registered meanwhile is then in the registry's answer, never taken
        # for one the registry no longer has.
        clients: dict[str, dict[str, Any]] = {}
        foreign: set[str] = set()
        for client in await self._listing("listClients", "clients"):
            if client.get("textname") == DEVICE_TEXTNAME:
                clients[client["username"]] = client
            else:
                foreign.add(client["username"])
        roles = {
            r["rolename"]: _acl_set(r.get("acls", []))
            for r in await self._listing("listRoles", "roles")
            if r["rolename"].startswith(_ROLE_PREFIX)
        }
        devices = await store.list_device_secrets()
        commands: list[dict[str, Any]] = []
        for device in devices:
            if device.device_id in foreign:
                # The operator's own account (the hub's, an admin's) is never the hub's to change.
                log.warning("device %s is not synced: the MQTT broker has a client of that name", device.device_id)
                continue
            commands += _repairs(device, clients.get(device.device_id), roles.get(role_name(device.device_id)))
        removed = sorted(clients.keys() - {device.device_id for device in devices})
        for username in removed:
            commands += [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": role_name(username)},
            ]
        missing = 0
        for first in range(0, len(commands), _RECONCILE_BATCH):
            batch = commands[first : first + _RECONCILE_BATCH]
            answers = await self._apply(*batch, allow=_RECONCILE_RACES)
            # A client that exists after all was created meanwhile, with its password, by the process that
            # registered the device.
            missing += sum(
                c["command"] == "createClient" and not a.get("error") for c, a in zip(batch, answers, strict=True)
            )
        if missing:
            log.warning(
                "%d device(s) were missing on the MQTT broker: rotate their credentials to let them in", missing
            )
        log.info(
            "MQTT broker accounts reconciled: %d device(s), %d removed, %d change(s) sent",
            len(devices),
            len(removed),
            len(commands),
        )
        return missing
