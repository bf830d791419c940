"""Every collection of the MongoDB store and the indexes its queries use (docs/architecture.md lists them).

Each adapter owns the collections named in its section. Migration 1 creates what is listed here; a later
change to an index is a new migration step (hub/store/mongo/migrations.py), not an edit of this list once
released.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from hub.store.mongo.rollup_collections import ROLLUP_COLLECTIONS

__all__ = ["ASCENDING", "DESCENDING", "INDEXES", "create_indexes"]

INDEXES: dict[str, list[IndexModel]] = {
    # --- telemetry, outbox (telemetry.py, outbox.py)
    # (outbox batches, its counter, cursors and followers are read by _id, or are a handful of documents)
    "telemetry_buckets": [
        # query_range and query_aggregate, oldest first (max_ts >= start, min_ts < end, by min_ts); the merge of a
        # series' small buckets (n < SMALL, by min_ts); a prefix serves the device delete
        IndexModel([("device", ASCENDING), ("key", ASCENDING), ("min_ts", ASCENDING)], name="buckets_by_start"),
        # query_range newest first (by max_ts, descending)
        IndexModel([("device", ASCENDING), ("key", ASCENDING), ("max_ts", ASCENDING)], name="buckets_by_end"),
        # the duplicate check of a write whose idents are not all above its series' top: buckets whose ident range
        # meets the batch's
        IndexModel([("device", ASCENDING), ("key", ASCENDING), ("max_ident", ASCENDING)], name="buckets_by_ident"),
        # drop_raw, a tenant's retention: its devices' buckets whose newest point is older than the cut-off
        IndexModel([("device", ASCENDING), ("max_ts", ASCENDING)], name="buckets_by_age"),
    ],
    # a document per series, _id "device/key": its top ident and latest value (read and raised by _id in a write,
    # last_heard of one key); latest (a device's keys) and the device delete by device
    "telemetry_latest": [IndexModel([("device", ASCENDING), ("key", ASCENDING)], name="latest_by_device")],
    # a collection per span (hub/store/mongo/rollups.py says why), _id "device/key/start": it takes the inserts and
    # updates of a write
    **{
        name: [
            # the whole spans of query_aggregate (by start); a prefix serves the device delete
            IndexModel([("device", ASCENDING), ("key", ASCENDING), ("start", ASCENDING)], name="rollups_by_series"),
            # drop_rollups: the span's rollups older than the cut-off
            IndexModel([("start", ASCENDING)], name="rollups_by_age"),
        ]
        for name in ROLLUP_COLLECTIONS.values()
    },
    # --- registry, identity, api keys, provisioning, sign-ins, state, nodes
    # (registry.py, identity.py, api_keys.py, provisioning.py, signins.py, state.py, nodes.py; tenants and heartbeats
    # are by _id only)
    "devices": [
        # list_devices in id order, paged: every equality filter has an index (filter, tenant, _id) that answers it
        # alone or with a tenant in id order (search, a substring, uses none); delete_tenant counts by tenant
        IndexModel([("tenant", ASCENDING), ("_id", ASCENDING)], name="devices_by_tenant"),
        IndexModel([("labels", ASCENDING), ("tenant", ASCENDING), ("_id", ASCENDING)], name="devices_by_label"),
        IndexModel([("status", ASCENDING), ("tenant", ASCENDING), ("_id", ASCENDING)], name="devices_by_status"),
        IndexModel([("kind", ASCENDING), ("tenant", ASCENDING), ("_id", ASCENDING)], name="devices_by_kind"),
        # and the profiles adapter's count of a tenant's devices of a profile
        IndexModel([("profile", ASCENDING), ("tenant", ASCENDING), ("_id", ASCENDING)], name="devices_by_profile"),
    ],
    # list_users, of a tenant, by name; delete_tenant's count
    "users": [IndexModel([("tenant", ASCENDING), ("_id", ASCENDING)], name="users_by_tenant")],
    "user_sessions": [
        IndexModel([("username", ASCENDING)], name="user_sessions_by_user"),  # delete_user
        IndexModel([("expires", ASCENDING)], name="user_sessions_by_expiry"),  # the purge in create_session
    ],
    "api_keys": [
        # list_api_keys, newest first, of a tenant or of a creator; delete_user and delete_tenant by their prefix
        IndexModel([("tenant", ASCENDING), ("created", DESCENDING), ("_id", ASCENDING)], name="api_keys_by_tenant"),
        IndexModel([("creator", ASCENDING), ("created", DESCENDING), ("_id", ASCENDING)], name="api_keys_by_creator"),
    ],
    # list_tokens of a tenant, newest first; delete_tenant
    "provisioning_tokens": [
        IndexModel(
            [("tenant", ASCENDING), ("created", DESCENDING), ("_id", ASCENDING)], name="provisioning_tokens_by_tenant"
        )
    ],
    "sign_in_failures": [
        IndexModel([("key", ASCENDING), ("ts", ASCENDING)], name="sign_in_failures_by_key"),  # fail's count, clear
        IndexModel([("ts", ASCENDING)], name="sign_in_failures_by_ts"),  # trim
    ],
    "sign_in_locks": [
        IndexModel([("key", ASCENDING), ("n", DESCENDING)], name="sign_in_locks_by_key"),  # fail, locked_until
        IndexModel([("until", ASCENDING)], name="sign_in_locks_by_until"),  # trim
    ],
    "state": [
        IndexModel([("kind", ASCENDING), ("device_id", ASCENDING)], name="state_by_kind"),  # list_states
        IndexModel([("device_id", ASCENDING)], name="state_by_device"),  # delete_device
    ],
    # --- apps, logs, events, audit (apps.py, logs.py, events.py, audit.py; _sequences and webhooks' changes are
    # by _id only)
    "app_versions": [
        # the natural key: get_version, the pins of create_deployment/set_version, delete_version; a prefix of it
        # serves get_app, delete_app and list_apps (sorted by tenant and name)
        IndexModel(
            [("tenant", ASCENDING), ("name", ASCENDING), ("version", ASCENDING)], name="app_versions_key", unique=True
        ),
    ],
    "deployments": [
        # list_deployments, oldest first: of a tenant (and app), of some statuses, of everyone
        IndexModel([("tenant", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)], name="deployments_by_tenant"),
        IndexModel([("status", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)], name="deployments_by_status"),
        IndexModel([("created", ASCENDING), ("_id", ASCENDING)], name="deployments_by_created"),
    ],
    "log_lines": [
        # search by time (ts, then _id) with a tenant, node or deployment filter, and with none (also older_than);
        # store order (tails, stored_order, beyond, delete) is _id's own index
        IndexModel([("tenant", ASCENDING), ("ts", ASCENDING), ("_id", ASCENDING)], name="log_lines_by_tenant"),
        IndexModel([("node", ASCENDING), ("ts", ASCENDING), ("_id", ASCENDING)], name="log_lines_by_node"),
        IndexModel([("deployment", ASCENDING), ("ts", ASCENDING), ("_id", ASCENDING)], name="log_lines_by_deployment"),
        IndexModel([("ts", ASCENDING), ("_id", ASCENDING)], name="log_lines_by_ts"),
        # text search: each message's words (multikey), which every matching line must hold
        IndexModel([("words", ASCENDING)], name="log_lines_by_word"),
    ],
    "events": [
        # query, by _id (newest first, or after a cursor): with a tenant, kind (or kind family), deployment or node
        IndexModel([("tenant", ASCENDING), ("_id", ASCENDING)], name="events_by_tenant"),
        IndexModel([("kind", ASCENDING), ("_id", ASCENDING)], name="events_by_kind"),
        IndexModel([("deployment", ASCENDING), ("_id", ASCENDING)], name="events_by_deployment"),
        IndexModel([("node", ASCENDING), ("_id", ASCENDING)], name="events_by_node"),
        # time ranges of query, and trim's cut-off
        IndexModel([("ts", ASCENDING)], name="events_by_ts"),
    ],
    # webhooks of a tenant, oldest first
    "webhooks": [
        IndexModel([("tenant", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)], name="webhooks_by_tenant")
    ],
    "audit": [
        # query, newest first by _id: with a tenant, actor, action (or action family) or target
        IndexModel([("tenant", ASCENDING), ("_id", ASCENDING)], name="audit_by_tenant"),
        IndexModel([("actor_id", ASCENDING), ("_id", ASCENDING)], name="audit_by_actor"),
        IndexModel([("action", ASCENDING), ("_id", ASCENDING)], name="audit_by_action"),
        IndexModel([("target", ASCENDING), ("_id", ASCENDING)], name="audit_by_target"),
        # time ranges of query, and trim's cut-off
        IndexModel([("ts", ASCENDING)], name="audit_by_ts"),
    ],
    # --- profiles, alarms, channels (profiles.py, alarms.py, channels.py; store_versions is read by _id only)
    # list_profiles, by tenant and id
    "profiles": [IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], name="profiles_by_tenant")],
    "rules": [
        # list_rules, by tenant and id
        IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], name="rules_by_tenant"),
        # profile_users: how many rules of a tenant name a profile
        IndexModel([("tenant", ASCENDING), ("profile", ASCENDING)], name="rules_by_profile"),
    ],
    "alarms": [
        # open_alarm: one open alarm per rule and device (the field exists only while the alarm is open)
        IndexModel([("open", ASCENDING)], name="alarms_open", unique=True, sparse=True),
        # query_alarms, newest raised first: by tenant, device, rule or state, and with no filter (a tie on
        # ``raised`` is broken by ``_id``); by_state also serves open_alarms and trim_alarms
        IndexModel([("tenant", ASCENDING), ("raised", DESCENDING), ("_id", DESCENDING)], name="alarms_by_tenant"),
        IndexModel([("device", ASCENDING), ("raised", DESCENDING), ("_id", DESCENDING)], name="alarms_by_device"),
        IndexModel([("rule", ASCENDING), ("raised", DESCENDING), ("_id", DESCENDING)], name="alarms_by_rule"),
        IndexModel([("state", ASCENDING), ("raised", DESCENDING), ("_id", DESCENDING)], name="alarms_by_state"),
        IndexModel([("raised", DESCENDING), ("_id", DESCENDING)], name="alarms_by_raised"),
    ],
    "rule_pending": [
        # delete_rule (a rule's conditions) and pending, in this order
        IndexModel([("tenant", ASCENDING), ("rule", ASCENDING), ("device", ASCENDING)], name="rule_pending_by_rule"),
        # the registry's device delete
        IndexModel([("device", ASCENDING)], name="rule_pending_by_device"),
    ],
    # list_channels of a tenant, oldest first (every tenant's: the whole, small, collection sorted)
    "channels": [
        IndexModel([("tenant", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)], name="channels_by_tenant")
    ],
    # --- leases
    "leases": [IndexModel([("name", ASCENDING), ("term", DESCENDING)])],
}


async def create_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    for name, indexes in INDEXES.items():
        if indexes:
            await db[name].create_indexes(indexes)
