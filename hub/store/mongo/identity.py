"""Users and their token sessions in the MongoDB store (:class:`hub.store.identity.IdentityStore`).

- ``users``: ``_id`` is the username, the rest the fields of :class:`UserRecord`.
- ``user_sessions``: ``_id`` is the session id (a token's ``sid``), with ``username``, ``issued``, ``expires`` and
  ``revoked``.

Checking a session is two lookups by ``_id`` (the session, then its user) where SQLite joins: MongoDB's
``$lookup`` would be one round trip, but these two are as cheap and need nothing FerretDB may lack.
"""

from __future__ import annotations

import dataclasses

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from hub.store.identity import SessionRecord, SessionStatus, UserRecord
from hub.store.mongo.database import Document, MongoDatabase, translated

USERS = "users"
SESSIONS = "user_sessions"
API_KEYS = "api_keys"  # the API key adapter's (api_keys.py): a deleted user's keys go with it
_FIELDS = tuple(field.name for field in dataclasses.fields(UserRecord) if field.name != "username")
# What put_user replaces of a user it finds: all but its token version (raised) and whether it is disabled
# (an admin's decision, which SQLite's upsert leaves alone too).
_REPLACED = tuple(name for name in _FIELDS if name not in ("token_version", "disabled"))


def _user_doc(user: UserRecord) -> Document:
    doc = dataclasses.asdict(user)
    doc["_id"] = doc.pop("username")
    return doc


def user_record(doc: Document) -> UserRecord:
    """The :class:`UserRecord` a ``users`` document holds (the API key adapter reads creators with it)."""
    return UserRecord(username=doc["_id"], **{name: doc[name] for name in _FIELDS})


class MongoIdentity:
    """Users in ``users``, token sessions in ``user_sessions``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def create_user(self, user: UserRecord) -> None:
        async with translated("user", user.username):
            await self._db.collection(USERS).insert_one(_user_doc(user))

    async def put_user(self, user: UserRecord) -> None:
        users = self._db.collection(USERS)
        doc = _user_doc(user)
        replace = {"$set": {name: doc[name] for name in _REPLACED}, "$inc": {"token_version": 1}}
        # Replace-or-insert in two steps, not an upsert: an inserted user keeps its own version, a replaced one
        # goes one past its stored version (never back to one whose tokens were revoked). Between two processes
        # the loser of the insert finds the user and replaces it on the next round.
        async with translated():
            while (await users.update_one({"_id": user.username}, replace)).matched_count == 0:
                try:
                    await users.insert_one(doc)
                except DuplicateKeyError:
                    continue
                return

    async def get_user(self, username: str) -> UserRecord | None:
        async with translated():
            doc = await self._db.collection(USERS).find_one({"_id": username})
        return None if doc is None else user_record(doc)

    async def list_users(self, tenant: str | None) -> list[UserRecord]:
        where = {} if tenant is None else {"tenant": tenant}
        async with translated():  # users_by_tenant: a tenant's users by name
            docs = await self._db.collection(USERS).find(where).sort("_id", 1).to_list()
        return [user_record(doc) for doc in docs]

    async def update_user(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> UserRecord | None:
        given = {"password_hash": password_hash, "role": role, "disabled": disabled}
        update: Document = {"$inc": {"token_version": 1}}
        if changes := {name: value for name, value in given.items() if value is not None}:
            update["$set"] = changes
        async with translated():
            doc = await self._db.collection(USERS).find_one_and_update(
                {"_id": username}, update, return_document=ReturnDocument.AFTER
            )
        return None if doc is None else user_record(doc)

    async def delete_user(self, username: str) -> bool:
        # Its sessions and API keys go first: a failure part-way leaves a user with fewer tokens (deleting it
        # again ends the job), never tokens of a gone user that a later user of that name would inherit.
        async with translated():
            await self._db.collection(SESSIONS).delete_many({"username": username})
            await self._db.collection(API_KEYS).delete_many({"creator": username})
            return (await self._db.collection(USERS).delete_one({"_id": username})).deleted_count == 1

    async def record_directory_user(self, username: str, role: str, tenant: str | None, at: int) -> UserRecord | None:
        users = self._db.collection(USERS)
        fresh = UserRecord(username, "", role, tenant, at, source="ldap", last_sign_in=at)
        async with translated():
            while True:
                found = await users.find_one({"_id": username})
                if found is None:
                    try:
                        await users.insert_one(_user_doc(fresh))
                    except DuplicateKeyError:
                        continue  # another process recorded it first: update that one
                    return fresh
                if found["source"] != "ldap":
                    return None  # a local user of that name wins
                # Conditional on the role and tenant read, so that the version goes up exactly when they change
                # even with another process signing the user in at the same time (else: read again).
                moved = int((found["role"], found["tenant"]) != (role, tenant))
                doc = await users.find_one_and_update(
                    {"_id": username, "source": "ldap", "role": found["role"], "tenant": found["tenant"]},
                    {"$set": {"role": role, "tenant": tenant, "last_sign_in": at}, "$inc": {"token_version": moved}},
                    return_document=ReturnDocument.AFTER,
                )
                if doc is not None:
                    return user_record(doc)

    async def create_session(self, session: SessionRecord) -> None:
        sessions = self._db.collection(SESSIONS)
        async with translated():
            # Purged here (sessions_by_expiry), so the collection holds about one token lifetime of sign-ins.
            await sessions.delete_many({"expires": {"$lte": session.issued}})
        async with translated("session", session.id):
            await sessions.insert_one(
                {
                    "_id": session.id,
                    "username": session.username,
                    "issued": session.issued,
                    "expires": session.expires,
                    "revoked": session.revoked,
                }
            )

    async def session_status(self, session_id: str) -> SessionStatus | None:
        async with translated():
            found = await self._db.collection(SESSIONS).find_one({"_id": session_id})
            if found is None:
                return None
            user = await self._db.collection(USERS).find_one({"_id": found["username"]}, {"token_version": True})
        if user is None:
            return None
        session = SessionRecord(found["_id"], found["username"], found["issued"], found["expires"], found["revoked"])
        return SessionStatus(session, user["token_version"])

    async def revoke_session(self, session_id: str) -> bool:
        async with translated():
            result = await self._db.collection(SESSIONS).update_one({"_id": session_id}, {"$set": {"revoked": True}})
        return result.matched_count == 1
