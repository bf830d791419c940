"""Log store benchmark: ingest lines/s through the store, and search latency over the stored lines.

Ingest writes generated lines (20 nodes, 10 deployments, messages as apps and agents write them) through
:class:`hub.store.sqlite.logs.SqliteLogs` in batches as nodes ship them, into a fresh SQLite store on disk.
Baseline, in the same run: the same lines into the same table and indexes of another fresh store whose full-text
index is switched off (its triggers dropped), so the difference is the cost of making lines searchable.

Search then runs a mix of queries over the stored lines as the API asks them (100 lines, newest first): a rare
word, a common word, a phrase, a prefix, text within one deployment, text with a minimum level within one node,
and one deployment's newest lines without text. Each kind runs ``--searches`` times; p50 and p99 are reported
per kind and over all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hub.store.logs import LEVELS, LogQuery, NewLine
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.logs import SqliteLogs

T0 = 1_795_000_000_000
NODES = [f"gw-{i:02d}" for i in range(20)]
DEPLOYMENTS = [f"dep-{i:012x}" for i in range(10)]
SENSORS = ["air", "soil", "water", "light", "co2"]
HOSTS = ["10.0.0.12", "broker.local", "api.example.com", "192.168.1.40"]
#: A vocabulary with a long tail: the rare words of a Zipf-like draw match a handful of lines.
VOCABULARY = [f"w{i}" for i in range(20_000)]


def _message(rng: random.Random, i: int) -> tuple[str, str]:
    word = VOCABULARY[min(int(rng.paretovariate(1.0)) - 1, len(VOCABULARY) - 1)]
    kind = i % 10
    if kind < 5:
        return "INFO", f"reading {rng.uniform(-10, 40):.2f} from sensor {rng.choice(SENSORS)} {word}"
    if kind < 7:
        status = rng.choice([200, 200, 200, 404, 500])
        return "INFO", f"GET /api/items/{rng.randint(1, 999)} {status} {rng.randint(1, 900)}ms {word}"
    if kind < 8:
        return "WARNING", f"WARNING retrying in {rng.randint(1, 30)}s: sensor {rng.choice(SENSORS)} slow {word}"
    if kind < 9:
        return "ERROR", f"connection to {rng.choice(HOSTS)} refused (errno 111) req-{rng.getrandbits(32):08x}"
    return "ERROR", f"Traceback (most recent call last): ValueError: bad value {rng.randint(0, 99999)} {word}"


def generate(count: int, seed: int) -> list[NewLine]:
    rng = random.Random(seed)  # noqa: S311 - generated load, not secrets
    lines = []
    for i in range(count):
        level, message = _message(rng, i)
        node = NODES[i % len(NODES)]
        if i % 5 == 0:  # the agents' own lines
            lines.append(NewLine("t1", node, T0 + i, LEVELS[level], "edge_agent", message))
            continue
        deployment = DEPLOYMENTS[i % len(DEPLOYMENTS)]
        lines.append(
            NewLine(
                "t1",
                node,
                T0 + i,
                LEVELS[level],
                "app",
                message,
                app=f"app-{i % len(DEPLOYMENTS)}",
                version="1.0.0",
                deployment=deployment,
                instance=f"{deployment}-0",
                service="main",
                stream="stderr" if level == "ERROR" else "stdout",
            )
        )
    return lines


async def _ingest(path: Path, lines: list[NewLine], batch: int, *, indexed: bool) -> tuple[SqliteDatabase, float]:
    db = SqliteDatabase(path)
    await db.open()
    if not indexed:

        def plain(conn: Any) -> None:
            conn.execute("DROP TRIGGER log_lines_indexed")
            conn.execute("DROP TRIGGER log_lines_unindexed")

        await db.writer.run(plain)
    store = SqliteLogs(db)
    started = time.perf_counter()
    for start in range(0, len(lines), batch):
        await store.append(lines[start : start + batch])
    return db, time.perf_counter() - started


def _queries(rng: random.Random) -> dict[str, LogQuery]:
    deployment = rng.choice(DEPLOYMENTS)
    return {
        "rare word": LogQuery(text=f"w{rng.randint(100, 400)}"),
        "common word": LogQuery(text=rng.choice(["reading", "sensor", "refused", "GET"])),
        "phrase": LogQuery(text=f'"connection to {rng.choice(HOSTS)} refused"'),
        "prefix": LogQuery(text=f"w{rng.randint(100, 999)}*"),
        "text in a deployment": LogQuery(deployment=deployment, text=rng.choice(["slow", "Traceback", "w7"])),
        "text, level, node": LogQuery(node=rng.choice(NODES), min_level=LEVELS["WARNING"], text="sensor"),
        "deployment, no text": LogQuery(deployment=deployment),
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _search(db: SqliteDatabase, searches: int, seed: int) -> dict[str, Any]:
    store = SqliteLogs(db)
    rng = random.Random(seed)  # noqa: S311 - generated load, not secrets
    times: dict[str, list[float]] = {}
    found: dict[str, list[int]] = {}
    for _ in range(searches):
        for kind, query in _queries(rng).items():
            started = time.perf_counter()
            lines = await store.search(query)
            times.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            found.setdefault(kind, []).append(len(lines))
    every = [ms for kind_times in times.values() for ms in kind_times]
    return {
        "p50_ms": round(statistics.median(every), 2),
        "p99_ms": round(_percentile(every, 0.99), 2),
        "kinds": {
            kind: {
                "p50_ms": round(statistics.median(ms), 2),
                "p99_ms": round(_percentile(ms, 0.99), 2),
                "lines_found_avg": round(statistics.mean(found[kind]), 1),
            }
            for kind, ms in times.items()
        },
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    lines = generate(args.lines, args.seed)
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-logs-") as tmp:
        plain, plain_s = await _ingest(Path(tmp) / "plain.db", lines, args.batch, indexed=False)
        await plain.close()
        db, indexed_s = await _ingest(Path(tmp) / "logs.db", lines, args.batch, indexed=True)
        try:
            search = await _search(db, args.searches, args.seed)
        finally:
            await db.close()
        size = sum(p.stat().st_size for p in Path(tmp).glob("logs.db*"))  # noqa: ASYNC240 - after the run
    return {
        "lines": args.lines,
        "batch": args.batch,
        "ingest_lines_per_s": round(args.lines / indexed_s),
        "baseline_lines_per_s": round(args.lines / plain_s),
        "ratio": round(indexed_s / plain_s, 2),
        "store_mb": round(size / 1e6, 1),
        "searches": args.searches * len(_queries(random.Random(0))),  # noqa: S311
        "search": search,
    }


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"log store benchmark: {result['lines']:,} lines in batches of {result['batch']}")
    print(
        f"  ingest with the full-text index: {result['ingest_lines_per_s']:,} lines/s "
        f"(store {result['store_mb']} MB on disk)"
    )
    print(
        f"  baseline, the same inserts without it: {result['baseline_lines_per_s']:,} lines/s (ratio {result['ratio']})"
    )
    search = result["search"]
    print(f"  search, {result['searches']} queries of 100 lines: p50 {search['p50_ms']} ms, p99 {search['p99_ms']} ms")
    for kind, figures in search["kinds"].items():
        print(
            f"    {kind:<22} p50 {figures['p50_ms']:>7} ms  p99 {figures['p99_ms']:>7} ms  "
            f"({figures['lines_found_avg']} lines found on average)"
        )
    return 0
