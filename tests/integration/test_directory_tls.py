"""Directory sign-in over TLS against a real slapd: ldaps:// and ldap:// with StartTLS, verified with ``ca_file``;
a directory whose certificate the hub cannot verify is refused at once, with the reason in the log."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.identity.ldap import DirectoryProvider
from cloud.runtime import HubRuntime
from cloud.settings import LdapSettings
from tests.helpers.hub import ADMIN_PASSWORD, Api, running_hub
from tests.helpers.slapd import DIRECTORY_USERS, SERVICE_PASSWORD, Slapd
from tests.helpers.tls import certificate_authority

pytestmark = pytest.mark.timeout(60)

TENANT = "site-a"
GROUPS: dict[str, dict[str, Any]] = {
    "site-a-users": {"role": "user", "tenant": TENANT},
    "platform-admins": {"role": "admin", "tenant": None},
}


def tls_settings(slapd: Slapd, how: str, ca_file: Path) -> dict[str, Any]:
    """``ldap`` settings for ``slapd_tls``: ``how`` is ``ldaps`` or ``start_tls``."""
    if how == "ldaps":
        return slapd.settings(GROUPS, url=slapd.ldaps_url, ca_file=str(ca_file))
    return slapd.settings(GROUPS, start_tls=True, ca_file=str(ca_file))


async def sign_in(hub: HubRuntime, username: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
        return await client.post(
            "/api/v1/auth/token", data={"username": username, "password": DIRECTORY_USERS[username]}
        )


@asynccontextmanager
async def directory_hub(data: Path, ldap: dict[str, Any]) -> AsyncIterator[HubRuntime]:
    async with running_hub(data, ldap=ldap) as hub:
        admin = await Api.login(hub.url)
        try:
            await admin.created("/api/v1/tenants", {"id": TENANT, "name": "Site A"})
        finally:
            await admin.close()
        yield hub


@pytest.mark.parametrize("how", ["ldaps", "start_tls"])
async def test_a_directory_user_signs_in_over_tls_verified_with_the_ca_file(
    tmp_path: Path, slapd_tls: Slapd, how: str
) -> None:
    assert slapd_tls.tls is not None
    async with directory_hub(tmp_path / "data", tls_settings(slapd_tls, how, slapd_tls.tls.cert)) as hub:
        assert (await sign_in(hub, "dora")).status_code == 200
        dora = await Api.login(hub.url, "dora", DIRECTORY_USERS["dora"])
        try:
            assert (await dora.http.get("/api/v1/auth/me")).json() == {
                "username": "dora",
                "role": "user",
                "tenant": TENANT,
            }
        finally:
            await dora.close()
        async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
            assert (await client.get("/healthz")).json()["directory"] == "ok"


async def test_the_tls_directory_refuses_a_client_that_skips_start_tls(tmp_path: Path, slapd_tls: Slapd) -> None:
    # slapd_tls answers nothing but StartTLS in clear: the StartTLS sign-in above did encrypt.
    assert slapd_tls.tls is not None
    ldap = LdapSettings.model_validate(tls_settings(slapd_tls, "start_tls", slapd_tls.tls.cert))
    async with running_hub(tmp_path / "data") as hub:
        store = hub.services.store.identity
        async with DirectoryProvider(ldap, store) as encrypted:
            assert await encrypted.state() == "ok"
        async with DirectoryProvider(ldap.model_copy(update={"start_tls": False}), store) as in_clear:
            assert await in_clear.state() == "down"


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("ldaps", "certificate"),  # OpenSSL's words: "self-signed certificate in certificate chain"
        ("start_tls", "certificate"),
        # The right CA, but a name the certificate does not carry: 127.1 is 127.0.0.1, the certificate says
        # 127.0.0.1 and localhost only. The name is checked, not only the signature.
        ("another name", "not valid for '127.1'"),
    ],
)
async def test_a_certificate_the_ca_file_does_not_verify_is_refused_at_once(
    tmp_path: Path, slapd_tls: Slapd, caplog: pytest.LogCaptureFixture, how: str, reason: str
) -> None:
    assert slapd_tls.tls is not None
    if how == "another name":
        ldap = tls_settings(slapd_tls, "ldaps", slapd_tls.tls.cert)
        ldap["url"] = ldap["url"].replace("127.0.0.1", "127.1")
    else:
        other_ca = certificate_authority(tmp_path / "other-ca", "Some other CA")
        ldap = tls_settings(slapd_tls, how, other_ca.cert)
    caplog.set_level(logging.WARNING)
    async with directory_hub(tmp_path / "data", ldap) as hub:
        started = time.monotonic()
        answer = await sign_in(hub, "dora")
        # Refused by the TLS handshake, not after the 2 x timeout_s deadline (3 s here).
        assert time.monotonic() - started < 2
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "directory_unavailable"
        # Why is in the log for operators; whoever signs in learns only that the directory is away.
        assert "certificate" not in error["message"] and "local users can still sign in" in error["message"], error
        async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
            local = await client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
            assert local.status_code == 200  # local users go on
            health = (await client.get("/healthz")).json()
            assert (health["status"], health["directory"]) == ("degraded", "down")
    said = [r.getMessage() for r in caplog.records if "certificate did not verify" in r.getMessage()]
    assert said, caplog.text
    assert reason in said[0].split("did not verify")[1], said
    secrets = (SERVICE_PASSWORD, DIRECTORY_USERS["dora"])
    assert not any(secret in caplog.text or secret in answer.text for secret in secrets)
