"""A real SMTP server (aiosmtpd, in its own thread) on a free loopback port, keeping what it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.helpers.ports import free_port


class Mailbox:
    """aiosmtpd's handler: each mail it accepts goes onto :attr:`received` of the test's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.received: asyncio.Queue[tuple[list[str], EmailMessage]] = asyncio.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self._loop.call_soon_threadsafe(self.received.put_nowait, (list(envelope.rcpt_tos), mail))
        return "250 OK"


@contextmanager
def smtp_server(loop: asyncio.AbstractEventLoop) -> Iterator[tuple[Mailbox, int]]:
    """A server without TLS or login (the hub's ``smtp.starttls = false``) and its port."""
    mailbox = Mailbox(loop)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
