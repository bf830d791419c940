"""Portal benchmark, in Debian's Chromium driven by Playwright (dev extras), against a hub in this process.

- First render of the devices page: from navigation to the first device row on screen, signed in, cold cache
  (a new browser context per load), median of ``--loads``; with ``--devices`` registered, against a baseline of
  10 devices in the same run (the ratio says what the registry's size costs the page).
- JavaScript (and CSS) shipped, gzipped, as the hub serves the build.
- Live chart: a device publishes readings of one key at rising rates while its page is open; for each rate, how
  many the chart drew and how long after the last publish it showed the last one. The highest rate whose
  readings were all drawn within a second of the end is the rate the chart keeps up with.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from playwright.async_api import Browser, Page, async_playwright, expect

from cloud.bench.chromium import CHROMIUM, CHROMIUM_ARGS
from cloud.bench.common import connected_publisher, hub_with_admin
from cloud.portal.serve import DIST
from cloud.runtime import HubRuntime

BASELINE_DEVICES = 10
RATES = (100, 1000, 5000, 10000, 20000)
RATE_S = 3.0
KEEP_UP_S = 1.0


def shipped() -> dict[str, int]:
    """Bytes of the build's scripts and styles, gzipped (level 9, as a serving proxy would)."""
    sizes = {"js_gzip_bytes": 0, "js_entry_gzip_bytes": 0, "css_gzip_bytes": 0, "js_bytes": 0}
    for path in (DIST / "assets").iterdir():
        data = path.read_bytes()
        if path.suffix == ".js":
            sizes["js_gzip_bytes"] += len(gzip.compress(data, 9))
            sizes["js_bytes"] += len(data)
            if path.name.startswith("index-"):  # what every first visit loads; pages come on their own
                sizes["js_entry_gzip_bytes"] += len(gzip.compress(data, 9))
        elif path.suffix == ".css":
            sizes["css_gzip_bytes"] += len(gzip.compress(data, 9))
    return sizes


async def _register(http: httpx.AsyncClient, count: int, prefix: str) -> None:
    """``count`` devices through the API, 16 requests at a time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = {"id": f"{prefix}-{i:05d}", "name": f"sensor {i}", "labels": {"site": f"s{i % 20}"}}
            (await http.post("/api/v1/devices", json=body)).raise_for_status()

    await asyncio.gather(*(worker() for _ in range(16)))


@contextlib.asynccontextmanager
async def _signed_in(browser: Browser, url: str, password: str) -> AsyncIterator[Page]:
    context = await browser.new_context()
    try:
        response = await context.request.post(
            f"{url}/api/v1/auth/session", data={"username": "admin", "password": password}
        )
        assert response.ok, await response.text()
        yield await context.new_page()
    finally:
        await context.close()


async def _first_render_ms(browser: Browser, url: str, password: str, first_id: str, loads: int) -> float:
    times = []
    for _ in range(loads):
        async with _signed_in(browser, url, password) as page:
            started = time.perf_counter()
            await page.goto(f"{url}/devices", wait_until="commit")
            await expect(page.get_by_role("link", name=first_id, exact=True)).to_be_visible(timeout=60_000)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-portal-") as tmp:
        async with hub_with_admin(Path(tmp)) as (hub, http), async_playwright() as playwright:
            password = hub.settings.admin_password
            assert password is not None
            secret = password.get_secret_value()
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                # The demo's own devices sort after these ids, so the first row is one of ours. One load first,
                # not counted, so that neither figure pays for the browser's and the hub's first use.
                await _register(http, BASELINE_DEVICES, "a-base")
                await _first_render_ms(browser, hub.url, secret, "a-base-00000", 1)
                baseline = await _first_render_ms(browser, hub.url, secret, "a-base-00000", args.loads)
                await _register(http, args.devices, "a-many")
                total = (await http.get("/api/v1/devices", params={"limit": 1})).json()["total"]
                many = await _first_render_ms(browser, hub.url, secret, "a-base-00000", args.loads)
                live = await _live_chart(browser, hub, http, secret)
            finally:
                await browser.close()
    return {
        "devices": total,
        "first_render_ms": round(many, 1),
        "baseline_devices": BASELINE_DEVICES,
        "baseline_first_render_ms": round(baseline, 1),
        "first_render_ratio": round(many / baseline, 2),
        **shipped(),
        **live,
    }


async def _publish(client: mqtt.Client, device: str, rate: int, first: int) -> int:
    """Readings ``first, first+1, ...`` of key ``v`` at ``rate`` a second for :data:`RATE_S`, 20 messages a second;
    returns the last value sent."""
    per_message = max(1, rate // 20)
    messages = int(RATE_S * 20)
    value = first
    started = time.perf_counter()
    for i in range(messages):
        now_ms = int(time.time() * 1000)
        batch = [{"ts": now_ms - per_message + k, "values": {"v": value + k}} for k in range(per_message)]
        value += per_message
        client.publish(f"devices/{device}/telemetry", json.dumps(batch), qos=1)
        await asyncio.sleep(max(0.0, started + (i + 1) / 20 - time.perf_counter()))  # pacing the publisher
    return value - 1


async def _live_chart(browser: Browser, hub: HubRuntime, http: httpx.AsyncClient, password: str) -> dict[str, Any]:
    created = (await http.post("/api/v1/devices", json={"id": "a-live", "name": "live"})).json()
    credentials = created["credentials"]
    client = connected_publisher(hub.mqtt_port, "a-live", credentials["password"])
    rates: list[dict[str, Any]] = []
    try:
        client.publish("devices/a-live/telemetry", json.dumps({"values": {"v": 0}}), qos=1)
        async with _signed_in(browser, hub.url, password) as page:
            await page.goto(f"{hub.url}/devices/a-live")
            summary = page.get_by_text("last ", exact=False).filter(has_text="point")
            await expect(summary.first).to_be_visible(timeout=30_000)
            last = 0
            for rate in RATES:
                last = await _publish(client, "a-live", rate, last + 1)
                sent = time.perf_counter()
                try:
                    await expect(summary.first).to_contain_text(re.compile(rf"last {last}\b"), timeout=10_000)
                    lag = time.perf_counter() - sent
                except AssertionError:
                    lag = None
                rates.append({"rate": rate, "last_drawn_after_s": None if lag is None else round(lag, 2)})
                if lag is None or lag > KEEP_UP_S:
                    break
    finally:
        client.loop_stop()
        client.disconnect()
    kept = [
        int(r["rate"]) for r in rates if r["last_drawn_after_s"] is not None and r["last_drawn_after_s"] <= KEEP_UP_S
    ]
    return {"live_rates": rates, "live_points_per_s_kept_up": max(kept, default=0)}


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"portal benchmark (Chromium, a hub in this process, median of {args.loads} cold loads)")
    print(
        f"  devices page, first render: {result['first_render_ms']} ms with {result['devices']} devices, "
        f"{result['baseline_first_render_ms']} ms with {result['baseline_devices']} "
        f"(ratio {result['first_render_ratio']})"
    )
    print(
        f"  shipped: JavaScript {result['js_gzip_bytes'] / 1024:.1f} KiB gzipped in all "
        f"({result['js_bytes'] / 1024:.1f} KiB), {result['js_entry_gzip_bytes'] / 1024:.1f} KiB on a first visit; "
        f"CSS {result['css_gzip_bytes'] / 1024:.1f} KiB gzipped"
    )
    steps = ", ".join(f"{r['rate']}/s: {r['last_drawn_after_s']} s" for r in result["live_rates"])
    print(f"  live chart, last reading drawn after the last publish: {steps}")
    print(f"  the chart keeps up with {result['live_points_per_s_kept_up']} points/s (drawn within {KEEP_UP_S} s)")
    return 0
