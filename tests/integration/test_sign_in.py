"""Signing in goes through every identity provider in turn: local users first, others after them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.identity.principals import Principal, Role
from cloud.identity.providers import SignIn
from cloud.identity.users import UserDirectory
from hub.errors import Unauthorized
from hub.security.passwords import ScryptParams
from hub.store.sqlite.backend import sqlite_backend

pytestmark = pytest.mark.timeout(30)


class StandInDirectory:
    """Stands in for the directory provider that does not exist yet: it knows one user and records who asked."""

    name = "directory"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def authenticate(self, username: str, password: str) -> Principal | None:
        self.asked.append(username)
        return Principal("carol", Role.USER, "ta") if (username, password) == ("carol", "from-the-directory") else None


async def test_local_users_first_then_the_next_provider_and_one_refusal_for_all(tmp_path: Path) -> None:
    backend = sqlite_backend(tmp_path / "hub.db")
    await backend.database.open()
    try:
        local = UserDirectory(backend.identity, ScryptParams(n=1024))
        await local.create("alice", "a long password 1", Role.ADMIN, None)
        directory = StandInDirectory()
        sign_in = SignIn([local, directory])
        assert await sign_in.authenticate("alice", "a long password 1") == Principal("alice", Role.ADMIN, None)
        assert directory.asked == []  # a local user never reaches the directory
        assert await sign_in.authenticate("carol", "from-the-directory") == Principal("carol", Role.USER, "ta")
        for username, password in (("alice", "wrong"), ("carol", "wrong"), ("nobody", "x")):
            with pytest.raises(Unauthorized, match=r"^wrong username or password$"):
                await sign_in.authenticate(username, password)
    finally:
        await backend.database.close()
