"""The portal's browser session: an HttpOnly cookie holding the token, and a CSRF token for unsafe requests."""

from __future__ import annotations

import httpx
import pytest

from cloud.runtime import HubRuntime
from contracts.api import CSRF_HEADER, SESSION_COOKIE
from tests.helpers.hub import ADMIN_PASSWORD

pytestmark = pytest.mark.timeout(60)
SESSION = "/api/v1/auth/session"
ADMIN = {"username": "admin", "password": ADMIN_PASSWORD}


async def _signed_in(client: httpx.AsyncClient) -> tuple[httpx.Response, str]:
    response = await client.post(SESSION, json=ADMIN)
    assert response.status_code == 200, response.text
    return response, response.json()["csrf_token"]


async def test_signing_in_sets_an_httponly_samesite_cookie_and_answers_who_and_the_csrf_token(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as browser:
        response, csrf = await _signed_in(browser)
        body = response.json()
        assert (body["username"], body["role"], body["tenant"]) == ("admin", "admin", None)
        assert len(csrf) >= 40 and body["expires"] > 0
        cookie = response.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "samesite", "path", "max-age"} <= attributes
        assert "samesite=lax" in cookie.lower() and "path=/" in cookie.lower()
        assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back
        assert f"max-age={hub.services.tokens.ttl_s}" in cookie.lower()
        # The token is the cookie's alone: the body carries no credential a script could keep.
        assert browser.cookies[SESSION_COOKIE] not in response.text

        again = await browser.get(SESSION)
        assert again.status_code == 200 and again.json()["csrf_token"] == csrf
        assert (await browser.get("/api/v1/devices")).status_code == 200


async def test_behind_a_tls_proxy_the_cookie_is_secure(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url, headers={"X-Forwarded-Proto": "https"}) as browser:
        response = await browser.post(SESSION, json=ADMIN)
        assert response.status_code == 200
        assert "; secure" in response.headers["set-cookie"].lower()


async def test_unsafe_requests_with_the_cookie_need_the_sessions_csrf_token(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as browser, httpx.AsyncClient(base_url=hub.url) as other:
        _, csrf = await _signed_in(browser)
        _, others_csrf = await _signed_in(other)
        assert csrf != others_csrf
        for headers in ({}, {CSRF_HEADER: "guess"}, {CSRF_HEADER: others_csrf}):
            refused = await browser.post("/api/v1/devices", json={"name": "x"}, headers=headers)
            assert refused.status_code == 403, headers
            error = refused.json()["error"]
            assert error["code"] == "forbidden" and CSRF_HEADER in error["message"]
        created = await browser.post("/api/v1/devices", json={"name": "x"}, headers={CSRF_HEADER: csrf})
        assert created.status_code == 201, created.text
        device = created.json()["id"]
        assert (await browser.delete(f"/api/v1/devices/{device}")).status_code == 403
        assert (await browser.delete(f"/api/v1/devices/{device}", headers={CSRF_HEADER: csrf})).status_code == 204


async def test_a_bearer_token_needs_no_csrf_token(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as client:
        token = (await client.post("/api/v1/auth/token", data=ADMIN)).json()["access_token"]
        created = await client.post("/api/v1/devices", json={"name": "y"}, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201


async def test_wrong_credentials_and_bad_bodies_are_refused_without_a_cookie(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as browser:
        wrong = await browser.post(SESSION, json={"username": "admin", "password": "not-it"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
        nobody = await browser.post(SESSION, json={"username": "nobody", "password": "not-it"})
        assert nobody.status_code == 401 and nobody.json() == wrong.json()
        for body in ({"username": "admin"}, {**ADMIN, "remember": True}, {"username": "", "password": "x"}):
            refused = await browser.post(SESSION, json=body)
            assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", body
        assert "set-cookie" not in wrong.headers and SESSION_COOKIE not in browser.cookies
        assert (await browser.get(SESSION)).status_code == 401


async def test_signing_out_revokes_the_session_and_removes_the_cookie(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as browser:
        _, csrf = await _signed_in(browser)
        token = browser.cookies[SESSION_COOKIE]
        assert (await browser.delete(SESSION)).status_code == 403  # signing out is a change: CSRF applies
        out = await browser.delete(SESSION, headers={CSRF_HEADER: csrf})
        assert out.status_code == 204
        assert SESSION_COOKIE not in browser.cookies
    # The old cookie value, replayed, is refused: the session was revoked, not only forgotten by the browser.
    async with httpx.AsyncClient(base_url=hub.url, cookies={SESSION_COOKIE: token}) as replay:
        assert (await replay.get("/api/v1/devices")).status_code == 401


async def test_live_streams_take_the_cookie(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as browser:
        await _signed_in(browser)
        async with browser.stream("GET", "/api/v1/events/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = await anext(stream.aiter_bytes())
            assert first.startswith(b": connected")
