"""Who may read /metrics: a scraper's token or a platform admin on the API listener; anyone on the probe listener."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cloud.settings import load_settings
from hub.errors import ConfigError
from tests.helpers.hub import Api, running_hub

pytestmark = pytest.mark.timeout(60)

SCRAPER_TOKEN = "a-scraper-token-of-at-least-32-characters"


async def test_metrics_need_a_token_on_the_api_and_none_on_the_probe_listener(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", metrics_token=SCRAPER_TOKEN, probe_port=0) as hub:
        admin = await Api.login(hub.url)
        tenant = await admin.http.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"})
        assert tenant.status_code == 201, tenant.text
        created = await admin.http.post(
            "/api/v1/users",
            json={"username": "acme-admin", "password": "a-long-enough-password", "role": "admin", "tenant": "acme"},
        )
        assert created.status_code == 201, created.text
        tenant_admin = await Api.login(hub.url, "acme-admin", "a-long-enough-password")
        async with httpx.AsyncClient(base_url=hub.url) as anonymous:
            assert (await anonymous.get("/metrics")).status_code == 401
            wrong = await anonymous.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
            assert wrong.status_code == 401
            scraper = await anonymous.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
            assert scraper.status_code == 200 and "fieldhub_mqtt_connections_dropped_total" in scraper.text
        assert (await tenant_admin.http.get("/metrics")).status_code == 403
        assert "fieldhub_ingest_messages_total" in (await admin.http.get("/metrics")).text
        assert hub.probe_port is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.probe_port}") as probe:
            assert "fieldhub_mqtt_refused_total" in (await probe.get("/metrics")).text
            assert (await probe.get("/healthz")).json() == {"status": "ok", "store": "ok"}
            assert (await probe.get("/api/v1/devices")).status_code == 404  # nothing else there
        await tenant_admin.close()
        await admin.close()


def test_a_short_metrics_token_is_refused_outside_demo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="metrics_token must have at least 32 characters"):
        load_settings(data_dir=tmp_path, admin_password="a-long-enough-password", metrics_token="short")
