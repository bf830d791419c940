"""Device ids and usernames are global: a taken one is refused alike in every tenant (docs/api.md)."""

from __future__ import annotations

import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api

pytestmark = pytest.mark.timeout(60)

PASSWORD = "a-long-enough-password"


async def _tenant_admin(admin: Api, hub: HubRuntime, tenant: str) -> Api:
    assert (await admin.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})).status_code == 201
    body = {"username": f"{tenant}-admin", "password": PASSWORD, "role": "admin", "tenant": tenant}
    assert (await admin.http.post("/api/v1/users", json=body)).status_code == 201
    return await Api.login(hub.url, f"{tenant}-admin", PASSWORD)


async def test_a_taken_name_is_refused_alike_whether_it_is_in_ones_own_tenant_or_another(
    hub: HubRuntime, api: Api
) -> None:
    alpha, beta = await _tenant_admin(api, hub, "alpha"), await _tenant_admin(api, hub, "beta")
    try:
        await beta.create_device("beta-sensor")
        await alpha.create_device("alpha-sensor")
        elsewhere = await alpha.http.post("/api/v1/devices", json={"id": "beta-sensor", "name": "x"})
        own = await alpha.http.post("/api/v1/devices", json={"id": "alpha-sensor", "name": "x"})
        assert elsewhere.status_code == own.status_code == 409
        assert elsewhere.json() == {"error": {"code": "conflict", "message": "device 'beta-sensor' already exists"}}
        assert own.json()["error"]["message"] == "device 'alpha-sensor' already exists"

        user = {"password": PASSWORD, "role": "user"}
        taken_elsewhere = await alpha.http.post("/api/v1/users", json={"username": "beta-admin", **user})
        taken_here = await alpha.http.post("/api/v1/users", json={"username": "alpha-admin", **user})
        assert taken_elsewhere.status_code == taken_here.status_code == 409
        assert taken_elsewhere.json()["error"]["message"] == "user 'beta-admin' already exists"
        assert taken_here.json()["error"]["message"] == "user 'alpha-admin' already exists"
        # Nothing else of the other tenant's device shows.
        assert (await alpha.http.get("/api/v1/devices/beta-sensor")).status_code == 404
    finally:
        await alpha.close()
        await beta.close()
