"""Bounded logs for what a flood can repeat: accept() failures at the open-file limit."""

from __future__ import annotations

import asyncio
import errno

import pytest

from hub.logutil import bounded_accept_errors

pytestmark = pytest.mark.timeout(10)


async def test_accept_failures_are_logged_once_per_interval_and_other_errors_pass_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context["message"]))
    failure = {"message": "socket.accept() out of system resource", "exception": OSError(errno.EMFILE, "Too many")}
    with bounded_accept_errors(interval_s=60):
        for _ in range(100):
            loop.call_exception_handler(failure)
        loop.call_exception_handler({"message": "something else"})
    assert [r.getMessage() for r in caplog.records] == ["cannot accept connections: [Errno 24] Too many"]
    assert seen == ["something else"]
    loop.call_exception_handler(failure)  # the previous handler is back afterwards
    assert seen == ["something else", failure["message"]]
    loop.set_exception_handler(None)
