"""Log set-up shared by the long-running subcommands."""

from __future__ import annotations

import logging

# Libraries that narrate every connection at INFO; their warnings still show.
_CHATTY = ("amqtt", "transitions", "uvicorn.error", "httpx", "hpack")


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
