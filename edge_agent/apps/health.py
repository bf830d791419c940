"""The health check a node runs against a service with ``[http]``: its ``health`` path answers below 400."""

from __future__ import annotations

import asyncio


async def answers(port: int, path: str) -> bool:
    """Whether ``GET path`` on 127.0.0.1:port answers with a status below 400."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: fieldhub-agent\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
    except OSError:
        return False
    finally:
        writer.close()
    parts = status.split()
    return len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < 400
