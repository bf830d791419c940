"""HTTP ingest: devices that cannot speak MQTT post telemetry with their own MQTT credentials.

The same payload contract, refusals (counted by reason), tenancy and durability as ``devices/{id}/telemetry``:
the answer comes only once the message is stored, as a QoS 1 PUBACK does. Only device credentials are taken
here, never a user's token or session (a user is not a device), so the route needs neither a session nor CSRF.
The body's size is bounded by :class:`cloud.api.body_limit.BodyLimit` at ``ingest.max_payload_bytes``
(see :func:`body_limit`), before anything is read or the credentials are checked.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from starlette.exceptions import HTTPException

from cloud.api.deps import ServicesDep
from cloud.services import Services
from contracts.api import ErrorResponse, IngestStored
from contracts.telemetry import PayloadRejected
from hub.errors import FieldhubError, Unauthorized
from hub.ingest.pipeline import EXPLAINED
from hub.security.device_auth import AuthRefused

PATH = "/api/v1/ingest/telemetry"
TOKEN_HEADER = "X-Device-Token"  # noqa: S105 - a header name, not a secret
CHALLENGE = 'Basic realm="fieldhub-ingest"'
MEDIA_TYPE = "application/json"

router = APIRouter(tags=["ingest"])


def body_limit(services: Services) -> int:
    """The body limit of ``POST /api/v1/ingest/telemetry``: the payload limit MQTT ingest has too."""
    return services.settings.ingest.max_payload_bytes


def credentials(authorization: str | None, token: str | None) -> tuple[str | None, str | None]:
    """(device id, secret) from ``Authorization: Basic`` or else from ``X-Device-Token: <id>:<secret>``.

    Anything else (a bearer token, a header that does not decode) gives no credentials.
    """
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            token = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
    device_id, colon, secret = (token or "").partition(":")
    return (device_id, secret) if colon else (None, None)


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == MEDIA_TYPE


#: The refusals, all with the API's error body: credentials, size, Content-Type, payload, store away.
_REFUSALS: dict[int | str, dict[str, object]] = {code: {"model": ErrorResponse} for code in (401, 413, 415, 422, 503)}


@router.post(PATH, status_code=status.HTTP_202_ACCEPTED, response_model=IngestStored, responses=_REFUSALS)
async def ingest_telemetry(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header(description="Basic: the device id and secret")] = None,
    device_token: Annotated[str | None, Header(alias=TOKEN_HEADER, description="<device id>:<secret>")] = None,
) -> IngestStored:
    """Store one telemetry message (an object or a list, as on MQTT) of the device the credentials name."""
    outcomes = services.metrics.http_ingest_by
    try:
        try:
            identity = await services.authenticator.authenticate(
                *credentials(authorization, device_token), via="HTTP ingest"
            )
        except AuthRefused as exc:
            outcomes["unauthorized"].inc()
            # One answer for every reason (counted apart): whether the device exists is nobody's business.
            raise Unauthorized("device credentials missing or refused", challenge=CHALLENGE) from exc
        if not _is_json(request.headers.get("content-type")):
            outcomes["unsupported_media_type"].inc()
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be {MEDIA_TYPE}")
        payload = await request.body()
        reason = await services.pipeline.submit(identity.device_id, identity.tenant, payload, stored=True)
    except FieldhubError as exc:
        if exc.retryable:
            outcomes["unavailable"].inc()
        raise
    if reason is not None:
        outcomes["refused"].inc()
        # The reason and what it means, never the parser's detail: that quotes the payload.
        raise PayloadRejected(reason, EXPLAINED[reason])
    outcomes["stored"].inc()
    return IngestStored(device_id=identity.device_id)
