"""Desired and reported state (the device twin)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import ValidationError

from contracts.agent_state import AgentDesiredState, problems
from contracts.devices import DeviceKind
from contracts.messages import MAX_STATE_BYTES, DesiredState
from contracts.topics import state_desired_topic
from hub.broker.base import DeviceIdentity, Publisher
from hub.clock import now_ms
from hub.errors import InvalidDocument, InvalidInput
from hub.logutil import RateLimitedLog
from hub.store.state import StateKind, StateRecord, StateStore

log = logging.getLogger(__name__)
#: Problems named in the message of a refusal, and listed in its details (64 KiB can hold thousands).
_LISTED = 5
_MAX_DETAILS = 100


class StateService:
    """Stores state documents and publishes desired state retained."""

    def __init__(self, store: StateStore, publisher: Publisher) -> None:
        self._store = store
        self._publisher = publisher
        self._log = RateLimitedLog(log)

    async def set_desired(
        self, device_id: str, doc: dict[str, Any], kind: DeviceKind = DeviceKind.DEVICE
    ) -> StateRecord:
        """Replace the desired state and publish it retained.

        Raises:
            InvalidInput: over the size limit, or (:class:`InvalidDocument`) a gateway's state that is not
                the agent's desired state (``contracts.agent_state.AgentDesiredState``); nothing is stored.
        """
        body = orjson.dumps(doc)
        if len(body) > MAX_STATE_BYTES:
            raise InvalidInput(f"desired state is {len(body)} bytes; the limit is {MAX_STATE_BYTES}")
        if kind == DeviceKind.GATEWAY:
            check_agent_desired(doc)
        record = await self._store.put_state(device_id, StateKind.DESIRED, doc, now_ms())
        await self._publish(device_id, record)
        return record

    async def republish(self) -> int:
        """Publish every stored desired state again (the embedded broker forgets retained messages)."""
        states = await self._store.list_states(StateKind.DESIRED)
        for device_id, record in states:
            await self._publish(device_id, record)
        return len(states)

    async def reported(self, identity: DeviceIdentity, payload: bytes) -> None:
        """Store a device's reported state if it is a JSON object within the size limit."""
        try:
            doc = _reported_doc(payload)
        except ValueError as exc:
            self._log.warning(
                f"state:{identity.device_id}", "refused reported state of %s: %s", identity.device_id, exc
            )
            return
        await self._store.put_state(identity.device_id, StateKind.REPORTED, doc, now_ms())

    async def _publish(self, device_id: str, record: StateRecord) -> None:
        message = DesiredState(version=record.version, state=record.doc, ts=record.updated)
        await self._publisher.publish(
            state_desired_topic(device_id), message.model_dump_json().encode(), qos=1, retain=True
        )


def check_agent_desired(doc: dict[str, Any]) -> None:
    """Refuse a gateway's desired state that the Fieldhub agent would not take, naming every problem.

    Gateways are what the agent enrolls as, so their desired state is the agent's. Sensor names are
    checked by the agent itself (the hub does not know them); it reports what it rejected.
    """
    try:
        AgentDesiredState.model_validate(doc)
    except ValidationError as exc:
        found = problems(exc)
        listed = "; ".join(f"{p.path}: {p.reason}" for p in found[:_LISTED])
        more = f" (and {len(found) - _LISTED} more)" if len(found) > _LISTED else ""
        raise InvalidDocument(
            f"a gateway's desired state is the agent's (contract agent-desired-state): {listed}{more}",
            [{"loc": ["body", *p.loc], "msg": p.reason} for p in found[:_MAX_DETAILS]],
        ) from None


def _reported_doc(payload: bytes) -> dict[str, Any]:
    """The reported state document, or ValueError saying why the payload is refused."""
    if len(payload) > MAX_STATE_BYTES:
        raise ValueError(f"{len(payload)} bytes > {MAX_STATE_BYTES}")
    doc = orjson.loads(payload)
    if not isinstance(doc, dict):
        raise ValueError("reported state must be a JSON object")  # noqa: TRY004 - one refusal path
    return doc
