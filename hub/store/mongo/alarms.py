"""Alarms of the MongoDB store (:class:`hub.store.alarms.AlarmStore`): rules, alarms, pending conditions.

Collections (the indexes are in hub/store/mongo/schema.py, each named for the query it serves):

- ``rules``: ``_id`` is ``tenant/id`` (:func:`key`); ``tenant``, ``id`` and ``profile`` beside the rule, which is
  JSON text in ``doc`` (its selector's label keys may hold a ``.``, which FerretDB refuses in a field name). Every
  change bumps the ``rules`` counter (hub/store/mongo/versions.py).
- ``alarms``: ``_id`` is the alarm id, the other fields as the model has them, plus ``rev`` (bumped by every
  write) and ``open`` (``tenant/rule/device``, present only while the alarm is open). A unique index on ``open``
  that skips documents without it (``sparse``) keeps one open alarm per rule and device: raising is one insert,
  and whichever process inserts second gets a duplicate key, with no window where both count. FerretDB refuses
  the partial index SQLite uses (``partialFilterExpression``), accepts ``sparse`` without recording it, and lets
  any number of documents lack a uniquely indexed field (checked against FerretDB 1.24; the contract suite
  clears several alarms). A second document per open alarm would have needed two writes, and a crash between
  them would leave a rule that can never raise again.
- ``rule_pending``: ``_id`` is ``tenant/rule/device``, so a condition starting again replaces the earlier one;
  the registry removes a deleted device's by ``device`` (hub/store/mongo/registry.py).

A transition is an optimistic compare-and-set: read the alarm, compute it after the change (with its history
bounded, which FerretDB's ``$push`` cannot do: it ignores ``$slice``), and replace it only if ``rev`` is still the
one read; if another process wrote in between, read again. An acknowledgement and a clear that race thus end in
one order, both recorded, as SQLite's write lock makes them. That rests on MongoDB applying a one-document update
atomically, filter and all. FerretDB 1.24 does not (of 8 clients racing one compare-and-set, all 8 matched), so
on it racing transitions may both land, the last write winning; raising once holds on both (a unique index).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import DeleteOne, ReplaceOne
from pymongo.errors import DuplicateKeyError

from contracts.alarms import OPEN_STATES, Alarm, AlarmChange, AlarmState, Rule
from hub.store.alarms import AlarmQuery, Pending, bounded_history, moved
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.versions import bump_version, store_version

RULES = "rules"
ALARMS = "alarms"
PENDING = "rule_pending"
_OPEN = [state.value for state in OPEN_STATES]
#: Newest raised first; ``_id`` breaks ties so that pages neither repeat nor skip an alarm.
_NEWEST_FIRST = [("raised", -1), ("_id", -1)]


def key(*parts: str) -> str:
    """The ``_id`` of an object named by identifiers (tenant first): they hold no ``/``, so it is unambiguous."""
    return "/".join(parts)


def _rule_fields(rule: Rule) -> Document:
    return {"profile": rule.profile, "doc": rule.model_dump_json()}


def _alarm_document(alarm: Alarm, rev: int) -> Document:
    document = alarm.model_dump(mode="json", exclude={"id"}) | {"_id": alarm.id, "rev": rev}
    if alarm.state in OPEN_STATES:
        document["open"] = key(alarm.tenant, alarm.rule, alarm.device)
    return document


def _alarm(document: Document) -> Alarm:
    fields = {name: value for name, value in document.items() if name not in ("_id", "rev", "open")}
    return Alarm.model_validate(fields | {"id": document["_id"]})


def _one(alarm_id: str, tenant: str | None) -> Document:
    return {"_id": alarm_id} if tenant is None else {"_id": alarm_id, "tenant": tenant}


def _where(query: AlarmQuery) -> Document:
    equal = {"tenant": query.tenant, "device": query.device, "rule": query.rule}
    where: Document = {name: value for name, value in equal.items() if value is not None}
    if query.states:
        where["state"] = {"$in": [state.value for state in query.states]}
    if query.severities:
        where["severity"] = {"$in": [severity.value for severity in query.severities]}
    raised: Document = {}
    if query.start is not None:
        raised["$gte"] = query.start
    if query.end is not None:
        raised["$lt"] = query.end
    if raised:
        where["raised"] = raised
    return where


class MongoAlarms:
    """Rules in ``rules``, alarms in ``alarms``, pending conditions in ``rule_pending``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    # rules
    async def add_rule(self, rule: Rule) -> None:
        document = {"_id": key(rule.tenant, rule.id), "tenant": rule.tenant, "id": rule.id} | _rule_fields(rule)
        async with translated("rule", rule.id):
            await self._db.collection(RULES).insert_one(document)
        await bump_version(self._db, RULES)

    async def get_rule(self, tenant: str, rule_id: str) -> Rule | None:
        async with translated():
            found = await self._db.collection(RULES).find_one({"_id": key(tenant, rule_id)})
        return None if found is None else Rule.model_validate_json(found["doc"])

    async def list_rules(self, tenant: str | None) -> list[Rule]:
        where = {} if tenant is None else {"tenant": tenant}
        async with translated():
            found = await self._db.collection(RULES).find(where).sort([("tenant", 1), ("id", 1)]).to_list()
        return [Rule.model_validate_json(document["doc"]) for document in found]

    async def put_rule(self, rule: Rule) -> bool:
        async with translated():
            result = await self._db.collection(RULES).update_one(
                {"_id": key(rule.tenant, rule.id)}, {"$set": _rule_fields(rule)}
            )
        if result.matched_count:
            await bump_version(self._db, RULES)
        return result.matched_count > 0

    async def delete_rule(self, tenant: str, rule_id: str) -> bool:
        # Its conditions go even when it does not exist: they may have been started before it was stored.
        async with translated():
            result = await self._db.collection(RULES).delete_one({"_id": key(tenant, rule_id)})
            await self._db.collection(PENDING).delete_many({"tenant": tenant, "rule": rule_id})
        if result.deleted_count:
            await bump_version(self._db, RULES)
        return result.deleted_count > 0

    async def rules_changed(self) -> int:
        return await store_version(self._db, RULES)

    # alarms
    async def open_alarm(self, alarm: Alarm) -> Alarm | None:
        stored = alarm.model_copy(update={"history": bounded_history(alarm.history)})
        alarms = self._db.collection(ALARMS)
        async with translated("alarm", alarm.id):
            try:
                await alarms.insert_one(_alarm_document(stored, rev=0))
            except DuplicateKeyError:
                # Either key may be taken; FerretDB's error does not say which. Only a taken id is an error.
                if await alarms.find_one({"_id": alarm.id}, {"_id": 1}) is not None:
                    raise
                return None  # its rule has an open alarm on the device
        return stored

    async def get_alarm(self, alarm_id: str, tenant: str | None) -> Alarm | None:
        async with translated():
            found = await self._db.collection(ALARMS).find_one(_one(alarm_id, tenant))
        return None if found is None else _alarm(found)

    async def open_alarms(self) -> list[Alarm]:
        async with translated():
            found = (
                await self._db.collection(ALARMS)
                .find({"state": {"$in": _OPEN}})
                .sort([("raised", 1), ("_id", 1)])
                .to_list()
            )
        return [_alarm(document) for document in found]

    async def query_alarms(self, query: AlarmQuery) -> tuple[list[Alarm], int]:
        where = _where(query)
        alarms = self._db.collection(ALARMS)
        async with translated():
            total = await alarms.count_documents(where)
            # A limit of 0 would mean "no limit" to MongoDB; to the store it means an empty page.
            page = (
                await alarms.find(where).sort(_NEWEST_FIRST).skip(query.offset).limit(query.limit).to_list()
                if query.limit > 0
                else []
            )
        return [_alarm(document) for document in page], total

    async def transition(
        self, alarm_id: str, tenant: str | None, expected: Sequence[AlarmState], change: AlarmChange
    ) -> Alarm | None:
        alarms = self._db.collection(ALARMS)
        async with translated("open alarm of the rule on the device"):
            while True:
                found = await alarms.find_one(_one(alarm_id, tenant))
                if found is None or found["state"] not in expected:
                    return None
                after = moved(_alarm(found), change)
                rev = found["rev"]
                replaced = await alarms.replace_one({"_id": alarm_id, "rev": rev}, _alarm_document(after, rev + 1))
                if replaced.matched_count:
                    return after
                # Another process moved the alarm since it was read: look again.

    async def trim_alarms(self, cleared_before: int) -> int:
        async with translated():
            result = await self._db.collection(ALARMS).delete_many(
                {"state": AlarmState.CLEARED.value, "cleared": {"$lt": cleared_before}}
            )
        return result.deleted_count

    # pending conditions
    async def pending(self) -> list[Pending]:
        async with translated():
            found = (
                await self._db.collection(PENDING).find().sort([("tenant", 1), ("rule", 1), ("device", 1)]).to_list()
            )
        return [Pending(d["tenant"], d["rule"], d["device"], d["since"]) for d in found]

    async def set_pending(self, started: Sequence[Pending], ended: Sequence[tuple[str, str, str]]) -> None:
        writes: list[ReplaceOne[Document] | DeleteOne] = [
            ReplaceOne(
                {"_id": key(p.tenant, p.rule, p.device)},
                {"tenant": p.tenant, "rule": p.rule, "device": p.device, "since": p.since},
                upsert=True,
            )
            for p in started
        ]
        writes += [DeleteOne({"_id": key(*ended_key)}) for ended_key in ended]
        if writes:
            # One round trip; ordered, so a condition both started and ended here ends, as in SQLite.
            async with translated():
                await self._db.collection(PENDING).bulk_write(writes, ordered=True)
