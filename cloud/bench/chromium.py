"""Debian's Chromium as the portal's benchmark and browser tests start it (never a browser Playwright downloads)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
#: No sandbox (root in a container), no GPU, and no calls home: this network reaches no Internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
