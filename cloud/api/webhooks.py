"""Webhook subscriptions: a tenant's events posted to a URL, signed with a secret told once.

Tenancy as for apps: a tenant's users act in their tenant, platform admins in any with ``?tenant=``; another
tenant's webhook answers 404, as one that does not exist. Deliveries: docs/api.md#webhooks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cloud.api.apps import TenantQuery, acting_tenant
from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant
from contracts.channels import WebhookUrl
from contracts.events import FAMILIES, EventKind
from hub.store.events import Webhook as WebhookRecord

router = APIRouter(prefix="/api/v1/webhooks", tags=["events"])

WebhookId = Annotated[str, Path(pattern=r"^wh-[0-9a-f]{12}$", description="Webhook id")]
_KIND_FILTERS = {kind.value for kind in EventKind} | {f"{family}." for family in FAMILIES}


class WebhookCreate(BaseModel):
    """Where to post which events."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    kinds: list[str] = Field(
        default_factory=list, max_length=32, description="Kinds (node.dead) or families (node.); empty: every kind"
    )

    @field_validator("kinds")
    @classmethod
    def _known(cls, kinds: list[str]) -> list[str]:
        unknown = [k for k in kinds if k not in _KIND_FILTERS]
        if unknown:
            raise ValueError(f"unknown kind {unknown[0][:64]!r}; kinds: {', '.join(sorted(_KIND_FILTERS))}")
        return kinds


class Deliveries(BaseModel):
    """How posting to the webhook has gone."""

    delivered: int = Field(description="Events the endpoint took (2xx)")
    failed_attempts: int = Field(description="Attempts that failed (an answer but 2xx, a timeout, no connection)")
    dropped: int = Field(description="Events given up: after the last attempt, or unsent behind a full queue")
    last_attempt: int | None = Field(description="Epoch ms")
    last_status: int | None = Field(description="HTTP status of the last attempt (null: no answer)")
    last_error: str | None = Field(description="Why the last attempt failed (null: it succeeded)")
    last_delivered: int | None = Field(description="Epoch ms")


class Webhook(BaseModel):
    """A webhook subscription (never with its secret)."""

    id: str
    tenant: str
    url: str
    kinds: list[str]
    created: int
    deliveries: Deliveries


class WebhookCreated(Webhook):
    """A new subscription, with its secret: the only time the hub tells it."""

    secret: str = Field(description="Signs every delivery (X-Fieldhub-Signature); keep it, it is not shown again")


class WebhookList(BaseModel):
    items: list[Webhook]


def _webhook(record: WebhookRecord) -> Webhook:
    return Webhook(
        id=record.id,
        tenant=record.tenant,
        url=record.url,
        kinds=list(record.kinds),
        created=record.created,
        deliveries=Deliveries(
            delivered=record.delivered,
            failed_attempts=record.failed_attempts,
            dropped=record.dropped,
            last_attempt=record.last_attempt,
            last_status=record.last_status,
            last_error=record.last_error,
            last_delivered=record.last_delivered,
        ),
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
async def create_webhook(
    body: WebhookCreate, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> WebhookCreated:
    """Post the tenant's events (of ``kinds``) to ``url``. The answer holds the signing ``secret``, told once."""
    acting = await acting_tenant(principal, tenant, services)
    record = await services.webhooks.create(acting, str(body.url), body.kinds)
    return WebhookCreated(**_webhook(record).model_dump(), secret=record.secret)


@router.get("", response_model=WebhookList)
async def list_webhooks(principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None) -> WebhookList:
    """The caller's tenant's webhooks (platform admins: of ``tenant``, else every tenant's) with their deliveries."""
    scope = tenant if principal.tenant is None else target_tenant(principal, tenant)
    return WebhookList(items=[_webhook(w) for w in await services.webhooks.list(scope)])


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_webhook(
    webhook_id: WebhookId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Response:
    """Stop posting to the webhook; events still waiting for it are not sent."""
    scope = tenant if principal.tenant is None else target_tenant(principal, tenant)
    await services.webhooks.delete(webhook_id, scope)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
