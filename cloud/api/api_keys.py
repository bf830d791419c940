"""API keys for automation: made by a signed-in user, shown once, used as ``Authorization: Bearer <key>``.

A key acts for its creator with at most the creator's role, in the creator's tenant; it stops working at
once, in every hub process, when deleted or when its creator is deleted, disabled or demoted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloud.api.deps import PrincipalDep, ServicesDep
from cloud.identity.principals import Role
from contracts.telemetry import from_epoch_ms
from hub.store.api_keys import ApiKeyRecord

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"])

#: The longest life a key may be given: ten years.
MAX_EXPIRES_IN_S = 10 * 365 * 86_400
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$", description="API key id")]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
    #: At most the creator's role; the creator's role when not given.
    role: Role | None = None
    #: Seconds until it stops working; without it the key works until it is deleted.
    expires_in_s: Annotated[int, Field(ge=1, le=MAX_EXPIRES_IN_S)] | None = None


class ApiKey(BaseModel):
    """An API key as listed: never its secret."""

    id: str
    name: str
    role: Role
    tenant: str | None
    #: The user it acts for.
    creator: str
    created: datetime
    expires: datetime | None
    #: When a request last used it (written at most once a minute), or ``None`` if never.
    last_used: datetime | None


class ApiKeyCreated(ApiKey):
    #: The key itself, ``fhk_<id>_<secret>``: shown this once, only a digest of it is kept.
    key: str


class ApiKeyList(BaseModel):
    items: list[ApiKey]


def _fields(record: ApiKeyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "name": record.name,
        "role": Role(record.role),
        "tenant": record.tenant,
        "creator": record.creator,
        "created": from_epoch_ms(record.created),
        "expires": None if record.expires is None else from_epoch_ms(record.expires),
        "last_used": None if record.last_used is None else from_epoch_ms(record.last_used),
    }


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, principal: PrincipalDep, services: ServicesDep) -> ApiKeyCreated:
    """Make a key for the caller, with at most the caller's role (``403`` otherwise), in the caller's tenant."""
    record, key = await services.api_keys.create(principal, body.name, body.role, body.expires_in_s)
    return ApiKeyCreated.model_validate({**_fields(record), "key": key})


@router.get("", response_model=ApiKeyList)
async def list_api_keys(principal: PrincipalDep, services: ServicesDep) -> ApiKeyList:
    """The caller's keys; an admin of a tenant sees the tenant's, the platform admin every key."""
    records = await services.api_keys.list(principal)
    return ApiKeyList(items=[ApiKey.model_validate(_fields(r)) for r in records])


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_api_key(key_id: KeyId, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Revoke a key the caller can list; it stops working at once in every hub process."""
    await services.api_keys.revoke(principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
