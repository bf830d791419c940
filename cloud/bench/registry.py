"""The device registry at scale: registration rate, filtered listing through the API, the broker sync on start.

Registration goes through the hub's registry, one device per call (many at once) and in batches
(:meth:`hub.registry.DeviceRegistry.create_devices`); its baseline is the scrypt hash every device cost
before secrets were hashed fast. Listing is ``GET /api/v1/devices`` with each filter over all the devices.
The sync is a hub's start on a managed Mosquitto, which begins from an account file written from the
registry, against the same start on the embedded broker. ``--mosquitto N`` also registers N devices on a
running Mosquitto, one message per device against one per batch: Mosquitto 2.0 rewrites its account
file after every command, so that rate falls as its accounts grow (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from cloud.bench.common import bench_settings
from cloud.runtime import HubRuntime
from contracts.devices import MAX_DEVICE_BATCH, DeviceCreate, DeviceKind, DeviceStatus
from contracts.profiles import ProfileCreate
from hub.clock import now_ms
from hub.registry import DEFAULT_TENANT
from hub.security.passwords import ScryptParams, hash_password, new_secret

#: Single registrations under way at once, as many API clients would send them.
_CONCURRENT = 64
#: Scrypt hashes timed for the baseline (on two threads, as the hub had).
_SCRYPT_SAMPLE = 40
#: What the generated devices carry, so that each filter matches a known share of them.
_SITES = 100
_GATEWAY_EVERY = 10
_PROFILE_EVERY = 50
_ONLINE_EVERY = 100
_PROFILE = "bench-profile"


def _spec(n: int) -> DeviceCreate:
    return DeviceCreate(
        id=f"bench-{n:07d}",
        name=f"sensor {n}",
        kind=DeviceKind.GATEWAY if n % _GATEWAY_EVERY == 0 else DeviceKind.DEVICE,
        labels={"site": f"s{n % _SITES}"},
        profile=_PROFILE if n % _PROFILE_EVERY == 0 else None,
    )


def _scrypt_rate() -> float:
    """Devices/s that the scrypt hash alone allowed (the production work factor, on two threads)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: hash_password(new_secret(), ScryptParams()), range(_SCRYPT_SAMPLE)))
    return _SCRYPT_SAMPLE / (time.perf_counter() - started)


async def _add_profile(hub: HubRuntime) -> None:
    await hub.services.profiles.create(DEFAULT_TENANT, ProfileCreate(id=_PROFILE, name="bench"))


async def _single(hub: HubRuntime, numbers: range) -> float:
    """Devices/s registered one per call, :data:`_CONCURRENT` calls at once."""
    window = asyncio.Semaphore(_CONCURRENT)

    async def one(n: int) -> None:
        async with window:
            await hub.services.registry.create_device(_spec(n), DEFAULT_TENANT)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in numbers))
    return len(numbers) / (time.perf_counter() - started)


async def _batched(hub: HubRuntime, numbers: range, batch: int) -> float:
    """Devices/s registered ``batch`` per call."""
    started = time.perf_counter()
    for first in range(numbers.start, numbers.stop, batch):
        specs = [_spec(n) for n in range(first, min(first + batch, numbers.stop))]
        await hub.services.registry.create_devices(specs, DEFAULT_TENANT)
    return len(numbers) / (time.perf_counter() - started)


@asynccontextmanager
async def _signed_in(hub: HubRuntime, password: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.url, timeout=60) as http:
        token = await http.post("/api/v1/auth/token", data={"username": "admin", "password": password})
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


def _filters(devices: int) -> dict[str, dict[str, Any]]:
    """Each listing measured: its query parameters."""
    return {
        "none": {},
        "tenant": {"tenant": DEFAULT_TENANT},
        "label": {"label": "site=s7"},
        "status": {"status": "online"},
        "kind": {"kind": "gateway"},
        "profile": {"profile": _PROFILE},
        "search": {"q": "sensor 4242"},
        "label_and_kind": {"label": "site=s10", "kind": "gateway"},
        "last_page": {"offset": max(0, devices - 100)},
    }


async def _timed(call: Callable[[], Awaitable[None]], runs: int) -> dict[str, float]:
    ms = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        ms.append((time.perf_counter() - started) * 1000)
    ms.sort()
    return {"p50_ms": round(statistics.median(ms), 1), "p99_ms": round(ms[max(0, int(len(ms) * 0.99) - 1)], 1)}


async def _listing(hub: HubRuntime, password: str, args: argparse.Namespace) -> dict[str, Any]:
    store = hub.services.store.registry
    for n in range(0, args.devices, _ONLINE_EVERY):
        await store.set_status(_spec(n).id or "", DeviceStatus.ONLINE, now_ms())
    figures: dict[str, Any] = {}
    async with _signed_in(hub, password) as http:
        for name, params in _filters(args.devices).items():
            answers: list[int] = []

            async def page(params: dict[str, Any] = params, answers: list[int] = answers) -> None:
                r = await http.get("/api/v1/devices", params={"limit": 100, **params})
                r.raise_for_status()
                answers.append(r.json()["total"])

            figures[name] = {**await _timed(page, args.queries), "total": answers[0]}
    return figures


async def _start_s(data_dir: Path, args: argparse.Namespace, broker: str) -> float:
    started = time.perf_counter()
    async with HubRuntime(bench_settings(data_dir, args, stream=[], broker=broker)):
        return time.perf_counter() - started


async def _on_mosquitto(data_dir: Path, args: argparse.Namespace, batch: int) -> float:
    """Devices/s registered ``batch`` per call on a running managed Mosquitto that starts with no device."""
    async with HubRuntime(bench_settings(data_dir, args, stream=[], broker="mosquitto")) as hub:
        await _add_profile(hub)
        numbers = range(args.mosquitto)
        return await (_single(hub, numbers) if batch == 1 else _batched(hub, numbers, batch))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-registry-") as tmp:
        data_dir = Path(tmp) / "hub"
        settings = bench_settings(data_dir, args, stream=[])
        assert settings.admin_password is not None
        password = settings.admin_password.get_secret_value()
        single_n = min(args.single, args.devices)
        async with HubRuntime(settings) as hub:
            await _add_profile(hub)
            single = await _single(hub, range(single_n))
            started = time.perf_counter()
            batched = await _batched(hub, range(single_n, args.devices), args.batch)
            all_in_s = single_n / single + time.perf_counter() - started
            listing = await _listing(hub, password, args)
        embedded_start = await _start_s(data_dir, args, "embedded")
        synced_start = await _start_s(data_dir, args, "mosquitto")
        mosquitto = None
        if args.mosquitto:
            single_on_broker = await _on_mosquitto(Path(tmp) / "mosquitto-single", args, 1)
            batched_on_broker = await _on_mosquitto(Path(tmp) / "mosquitto-batched", args, args.batch)
            mosquitto = {
                "devices": args.mosquitto,
                "single_per_s": round(single_on_broker, 1),
                "batched_per_s": round(batched_on_broker, 1),
                "batch": args.batch,
            }
    return {
        "devices": args.devices,
        "create": {
            "scrypt_baseline_per_s": round(_scrypt_rate(), 1),
            "single_per_s": round(single, 1),
            "batched_per_s": round(batched, 1) if args.devices > single_n else None,
            "batch": args.batch,
            "all_s": round(all_in_s, 1),
        },
        "list": listing,
        "start": {
            "embedded_s": round(embedded_start, 2),
            "mosquitto_with_sync_s": round(synced_start, 2),
            "sync_s": round(synced_start - embedded_start, 2),
        },
        "mosquitto_create": mosquitto,
    }


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.batch <= MAX_DEVICE_BATCH:
        raise SystemExit(f"--batch must be 1 to {MAX_DEVICE_BATCH}")
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    create, start = result["create"], result["start"]
    print(f"registry benchmark: {result['devices']} devices")
    print(
        f"  create: {create['single_per_s']}/s one per call, {create['batched_per_s']}/s in batches of "
        f"{create['batch']} (scrypt baseline {create['scrypt_baseline_per_s']}/s); all in {create['all_s']} s"
    )
    for name, figures in result["list"].items():
        print(f"  list {name}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms ({figures['total']} match)")
    print(
        f"  start: {start['embedded_s']} s embedded, {start['mosquitto_with_sync_s']} s on Mosquitto "
        f"(sync {start['sync_s']} s)"
    )
    if result["mosquitto_create"]:
        m = result["mosquitto_create"]
        print(
            f"  on a running Mosquitto ({m['devices']} devices): {m['single_per_s']}/s a message per device, "
            f"{m['batched_per_s']}/s a message per batch of {m['batch']}"
        )
    return 0
