"""Tenants and their users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloud.api.deps import PrincipalDep, ServicesDep
from cloud.identity.principals import Role
from contracts.devices import Tenant, TenantCreate
from contracts.ids import Identifier
from hub.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["tenants"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")]
    password: Annotated[str, StringConstraints(min_length=12, max_length=256)]
    role: Role = Role.USER
    tenant: Identifier | None = None


class User(BaseModel):
    username: str
    role: Role
    tenant: str | None


class TenantList(BaseModel):
    items: list[Tenant]


class UserList(BaseModel):
    items: list[User] = Field(default_factory=list)


@router.post("/tenants", status_code=status.HTTP_201_CREATED, response_model=Tenant)
async def create_tenant(body: TenantCreate, principal: PrincipalDep, services: ServicesDep) -> Tenant:
    principal.require_platform_admin()
    return await services.registry.create_tenant(body.name, body.id)


@router.get("/tenants", response_model=TenantList)
async def list_tenants(principal: PrincipalDep, services: ServicesDep) -> TenantList:
    tenants = await services.store.registry.list_tenants()
    return TenantList(items=[t for t in tenants if principal.can_see(t.id)])


@router.get("/tenants/{tenant_id}", response_model=Tenant)
async def get_tenant(tenant_id: str, principal: PrincipalDep, services: ServicesDep) -> Tenant:
    tenant = await services.store.registry.get_tenant(tenant_id)
    if tenant is None or not principal.can_see(tenant.id):
        raise NotFound("tenant", tenant_id)
    return tenant


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=User)
async def create_user(body: UserCreate, principal: PrincipalDep, services: ServicesDep) -> User:
    """Platform admins create users anywhere; tenant admins only in their own tenant."""
    principal.require_admin()
    tenant = body.tenant if principal.is_platform_admin else principal.tenant
    if body.tenant is not None and body.tenant != tenant:
        raise NotFound("tenant", body.tenant)
    if tenant is not None and await services.store.registry.get_tenant(tenant) is None:
        raise NotFound("tenant", tenant)
    created = await services.users.create(body.username, body.password, body.role, tenant)
    return User(username=created.username, role=created.role, tenant=created.tenant)


@router.get("/users", response_model=UserList)
async def list_users(principal: PrincipalDep, services: ServicesDep) -> UserList:
    principal.require_admin()
    users = await services.users.list(principal.tenant)
    return UserList(items=[User(username=u.username, role=u.role, tenant=u.tenant) for u in users])
