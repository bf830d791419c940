"""The MongoDB backend: every store interface on one MongoDB database."""

from __future__ import annotations

from hub.store.backend import Backend
from hub.store.mongo.alarms import MongoAlarms
from hub.store.mongo.api_keys import MongoApiKeys
from hub.store.mongo.apps import MongoApps
from hub.store.mongo.audit import MongoAudit
from hub.store.mongo.channels import MongoChannels
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.events import MongoEvents
from hub.store.mongo.identity import MongoIdentity
from hub.store.mongo.leases import MongoLeases
from hub.store.mongo.logs import MongoLogs
from hub.store.mongo.nodes import MongoNodes
from hub.store.mongo.outbox import MongoOutbox
from hub.store.mongo.profiles import MongoProfiles
from hub.store.mongo.provisioning import MongoProvisioning
from hub.store.mongo.registry import MongoRegistry
from hub.store.mongo.signins import MongoSignIns
from hub.store.mongo.state import MongoState
from hub.store.mongo.telemetry import MongoTelemetry


def mongo_backend(url: str) -> Backend:
    """The backend on the database ``url`` names (not yet open)."""
    db = MongoDatabase(url)
    return Backend(
        database=db,
        registry=MongoRegistry(db),
        telemetry=MongoTelemetry(db),
        outbox=MongoOutbox(db),
        state=MongoState(db),
        nodes=MongoNodes(db),
        identity=MongoIdentity(db),
        api_keys=MongoApiKeys(db),
        provisioning=MongoProvisioning(db),
        apps=MongoApps(db),
        logs=MongoLogs(db),
        events=MongoEvents(db),
        profiles=MongoProfiles(db),
        alarms=MongoAlarms(db),
        channels=MongoChannels(db),
        audit=MongoAudit(db),
        sign_ins=MongoSignIns(db),
        leases=MongoLeases(db),
    )
