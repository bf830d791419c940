"""The embedded backend: every store interface on one SQLite file."""

from __future__ import annotations

from pathlib import Path

from hub.store.backend import Backend
from hub.store.sqlite.alarms import SqliteAlarms
from hub.store.sqlite.api_keys import SqliteApiKeys
from hub.store.sqlite.apps import SqliteApps
from hub.store.sqlite.audit import SqliteAudit
from hub.store.sqlite.channels import SqliteChannels
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.events import SqliteEvents
from hub.store.sqlite.identity import SqliteIdentity
from hub.store.sqlite.leases import SqliteLeases
from hub.store.sqlite.logs import SqliteLogs
from hub.store.sqlite.nodes import SqliteNodes
from hub.store.sqlite.outbox import SqliteOutbox
from hub.store.sqlite.profiles import SqliteProfiles
from hub.store.sqlite.provisioning import SqliteProvisioning
from hub.store.sqlite.registry import SqliteRegistry
from hub.store.sqlite.signins import SqliteSignIns
from hub.store.sqlite.state import SqliteState
from hub.store.sqlite.telemetry import SqliteTelemetry


def sqlite_backend(path: Path) -> Backend:
    """The backend on the database file at ``path`` (not yet open)."""
    db = SqliteDatabase(path)
    telemetry = SqliteTelemetry(db)
    return Backend(
        database=db,
        registry=SqliteRegistry(db, telemetry),
        telemetry=telemetry,
        outbox=SqliteOutbox(db),
        state=SqliteState(db),
        nodes=SqliteNodes(db),
        identity=SqliteIdentity(db),
        api_keys=SqliteApiKeys(db),
        provisioning=SqliteProvisioning(db),
        apps=SqliteApps(db),
        logs=SqliteLogs(db),
        events=SqliteEvents(db),
        profiles=SqliteProfiles(db),
        alarms=SqliteAlarms(db),
        channels=SqliteChannels(db),
        audit=SqliteAudit(db),
        sign_ins=SqliteSignIns(db),
        leases=SqliteLeases(db),
    )
