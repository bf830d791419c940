"""Tenants and their users.

Admins manage users: platform admins everywhere, tenant admins in their tenant only; a user of another
tenant answers 404, exactly as one that does not exist. Changing or deleting a user revokes its tokens.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloud.api.deps import PrincipalDep, ServicesDep
from cloud.identity.principals import Principal, Role
from cloud.identity.users import ADMIN
from cloud.services import Services
from contracts.devices import Name, RetentionDays, Tenant, TenantCreate
from contracts.ids import Identifier
from hub.errors import Forbidden, InvalidInput, NotFound

router = APIRouter(prefix="/api/v1", tags=["tenants"])


USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
Username = Annotated[str, Path(pattern=USERNAME_PATTERN, description="Username")]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
    password: Annotated[str, StringConstraints(min_length=12, max_length=256)]
    role: Role = Role.USER
    tenant: Identifier | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, StringConstraints(min_length=12, max_length=256)] | None = None
    role: Role | None = None
    #: A disabled user cannot sign in, and its tokens and API keys are refused at once.
    disabled: bool | None = None


class User(BaseModel):
    username: str
    role: Role
    tenant: str | None
    source: Literal["local", "ldap"] = Field(
        default="local", description="local, or ldap: a directory user, recorded at each sign-in"
    )
    disabled: bool = Field(default=False, description="a disabled user cannot sign in; its tokens and keys fail")


class TenantUpdate(BaseModel):
    """Body of ``PATCH /api/v1/tenants/{id}``: what it gives changes, the rest stays."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    telemetry_days: RetentionDays | None = Field(
        default=None, description="Days raw telemetry is kept, rollups longer (null: the hub's default)"
    )
    logs_days: RetentionDays | None = Field(
        default=None, description="Days log lines are kept (null: the hub's default)"
    )


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


@router.patch("/tenants/{tenant_id}", response_model=Tenant)
async def update_tenant(tenant_id: str, body: TenantUpdate, principal: PrincipalDep, services: ServicesDep) -> Tenant:
    """Give a tenant another name (its id stays) and/or set how many days it keeps raw telemetry and log lines
    (``null``: the hub's default; platform admins)."""
    principal.require_platform_admin()
    given = body.model_fields_set
    if not given:
        raise InvalidInput("give a name, telemetry_days or logs_days")
    if "name" in given and body.name is None:
        raise InvalidInput("name: a tenant keeps a name")
    tenant = await services.store.registry.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound("tenant", tenant_id)
    if body.name is not None:
        tenant = await services.registry.rename_tenant(tenant_id, body.name)
    if given & {"telemetry_days", "logs_days"}:
        telemetry_days = body.telemetry_days if "telemetry_days" in given else tenant.telemetry_days
        logs_days = body.logs_days if "logs_days" in given else tenant.logs_days
        tenant = await services.registry.set_retention(tenant_id, telemetry_days, logs_days)
    return tenant


@router.delete("/tenants/{tenant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tenant(tenant_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Delete an empty tenant (platform admins): ``409`` naming what is left in it (``details``: kind and count
    of each), ``403`` for the ``default`` tenant. Its events, logs and alarms go with it."""
    principal.require_platform_admin()
    await services.registry.delete_tenant(tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
    return UserList(items=[_user(u) for u in users])


def _user(principal: Principal) -> User:
    source = "ldap" if principal.source == "ldap" else "local"
    return User(
        username=principal.username,
        role=principal.role,
        tenant=principal.tenant,
        source=source,
        disabled=principal.disabled,
    )


async def _visible_user(username: str, principal: Principal, services: Services) -> Principal:
    """The user if the caller, an admin, may manage it; otherwise 404, never 403, as for devices."""
    principal.require_admin()
    user = await services.users.get(username)
    visible = user is not None and (principal.is_platform_admin or user.tenant == principal.tenant)
    if user is None or not visible:
        raise NotFound("user", username)
    return user


@router.get("/users/{username}", response_model=User)
async def get_user(username: Username, principal: PrincipalDep, services: ServicesDep) -> User:
    return _user(await _visible_user(username, principal, services))


@router.patch("/users/{username}", response_model=User)
async def update_user(username: Username, body: UserUpdate, principal: PrincipalDep, services: ServicesDep) -> User:
    """Set a user's password, role and/or ``disabled``; every token the user holds stops working at once.

    A disabled user cannot sign in (the same ``401`` as a wrong password) and its API keys are refused until it
    is enabled again. The platform admin cannot be disabled.
    """
    await _visible_user(username, principal, services)
    if body.password is None and body.role is None and body.disabled is None:
        raise InvalidInput("give a password, a role or disabled")
    if body.disabled and username == ADMIN:
        raise Forbidden("the platform admin cannot be disabled; change its password instead")
    updated = await services.users.update(username, password=body.password, role=body.role, disabled=body.disabled)
    return _user(updated)


@router.delete("/users/{username}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(username: Username, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Remove a user; every token it holds stops working at once. The platform admin stays."""
    await _visible_user(username, principal, services)
    if username == ADMIN:
        raise Forbidden("the platform admin cannot be deleted; change its password instead")
    await services.users.delete(username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
