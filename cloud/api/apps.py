"""App routes: push a package, list apps and their versions, download a package, delete.

Any user of a tenant may push and delete that tenant's apps, as they manage its devices; platform admins act
in any tenant with ``?tenant=``. Another tenant's app answers 404, as one that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, Response, UploadFile, status
from pydantic import BaseModel, Field

from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant
from cloud.identity.principals import Principal
from cloud.services import Services
from contracts.apps import SEMVER_PATTERN
from contracts.ids import ID_PATTERN
from hub.errors import NotFound
from hub.store.apps import AppRecord, AppVersionRecord

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])

PATH = "/api/v1/apps"
#: The multipart envelope around the zip (boundaries, part headers) on top of the package size limit.
MULTIPART_OVERHEAD = 64 * 1024
#: The response header holding the package's sha256 (hex) on a download.
DIGEST_HEADER = "X-Fieldhub-Digest"

AppName = Annotated[str, Path(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", description="App name")]
VersionPath = Annotated[str, Path(pattern=SEMVER_PATTERN, max_length=64, description="Semantic version")]
TenantQuery = Annotated[str | None, Query(pattern=ID_PATTERN, description="Tenant (platform admins)")]


def upload_limit(services: Services) -> int:
    """The body limit of ``POST /api/v1/apps``: the package size limit and the multipart envelope."""
    return services.apps.limits.max_compressed_size + MULTIPART_OVERHEAD


class AppVersion(BaseModel):
    """A pushed version of an app."""

    tenant: str
    name: str
    version: str
    digest: str = Field(description="sha256 of the package (hex)")
    size: int = Field(description="Bytes of the package (the zip)")
    created: int = Field(description="When it was pushed (epoch ms)")
    created_by: str
    manifest: dict[str, Any] = Field(description="The manifest fieldhub-app.toml, as parsed")


class App(BaseModel):
    """An app with every version, the highest first."""

    tenant: str
    name: str
    versions: list[AppVersion]


class AppSummary(BaseModel):
    tenant: str
    name: str
    latest: str = Field(description="The highest version")
    description: str
    versions: int = Field(description="How many versions are pushed")


class AppList(BaseModel):
    items: list[AppSummary]


def _version(record: AppVersionRecord) -> AppVersion:
    return AppVersion.model_validate({**asdict(record), "manifest": json.loads(record.manifest)})


def _summary(app: AppRecord) -> AppSummary:
    latest = app.versions[0]
    description = str(json.loads(latest.manifest)["app"].get("description", ""))
    return AppSummary(
        tenant=app.tenant, name=app.name, latest=latest.version, description=description, versions=len(app.versions)
    )


async def package_response(services: Services, record: AppVersionRecord) -> Response:
    """The package of ``record`` as a download, verified against its digest, which ``X-Fieldhub-Digest`` carries."""
    data = await services.apps.package(record)
    headers = {
        DIGEST_HEADER: record.digest,
        "ETag": f'"{record.digest}"',
        "Content-Disposition": f'attachment; filename="{record.name}-{record.version}.zip"',
    }
    return Response(data, media_type="application/zip", headers=headers)


async def acting_tenant(principal: Principal, requested: str | None, services: Services) -> str:
    tenant = target_tenant(principal, requested)
    if principal.tenant is None and await services.store.registry.get_tenant(tenant) is None:
        raise NotFound("tenant", tenant)
    return tenant


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AppVersion)
async def push_app(
    package: Annotated[UploadFile, File(description="The app directory as a zip, fieldhub-app.toml at its root")],
    principal: PrincipalDep,
    services: ServicesDep,
    tenant: TenantQuery = None,
) -> AppVersion:
    """Push a version of an app. The package is checked completely before anything is stored: a refusal is
    422 ``invalid_package`` listing every problem; an existing name and version is 409."""
    acting = await acting_tenant(principal, tenant, services)
    data = await package.read()
    return _version(await services.apps.push(acting, data, principal.username))


@router.get("", response_model=AppList)
async def list_apps(principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None) -> AppList:
    """The apps of the caller's tenant (platform admins: of ``tenant``, else of every tenant), by tenant and name."""
    scope = tenant if principal.tenant is None else target_tenant(principal, tenant)
    return AppList(items=[_summary(app) for app in await services.apps.store.list_apps(scope)])


@router.get("/{name}", response_model=App)
async def get_app(name: AppName, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None) -> App:
    app = await services.apps.app(target_tenant(principal, tenant), name)
    return App(tenant=app.tenant, name=app.name, versions=[_version(v) for v in app.versions])


@router.get("/{name}/versions/{version}", response_model=AppVersion)
async def get_app_version(
    name: AppName, version: VersionPath, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> AppVersion:
    return _version(await services.apps.version(target_tenant(principal, tenant), name, version))


@router.get(
    "/{name}/versions/{version}/package",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The package, as pushed"}},
)
async def download_package(
    name: AppName, version: VersionPath, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Response:
    """The package as pushed, verified against its digest, which the ``X-Fieldhub-Digest`` header carries."""
    record = await services.apps.version(target_tenant(principal, tenant), name, version)
    return await package_response(services, record)


@router.delete("/{name}/versions/{version}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_app_version(
    name: AppName, version: VersionPath, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Response:
    """Delete a version and its package; 409 while a deployment uses it."""
    await services.apps.delete_version(target_tenant(principal, tenant), name, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_app(
    name: AppName, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Response:
    """Delete every version of an app and their packages; 409 while a deployment uses any of them."""
    await services.apps.delete_app(target_tenant(principal, tenant), name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
