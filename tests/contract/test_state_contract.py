"""The state store's contract (desired and reported documents, versioned): every backend passes it."""

from __future__ import annotations

import pytest

from hub.store.backend import Backend
from hub.store.state import StateKind
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)


async def test_state_documents_are_versioned(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2")
    assert await backend.state.get_state("d1", StateKind.DESIRED) is None
    first = await backend.state.put_state("d1", StateKind.DESIRED, {"interval": 5}, T0)
    second = await backend.state.put_state("d1", StateKind.DESIRED, {"interval": 7, "on": True}, T0 + 1)
    assert (first.version, second.version) == (1, 2)
    assert await backend.state.get_state("d1", StateKind.DESIRED) == second
    assert second.doc == {"interval": 7, "on": True} and second.updated == T0 + 1
    await backend.state.put_state("d1", StateKind.REPORTED, {"interval": 5}, T0)
    assert (await backend.state.get_state("d1", StateKind.REPORTED)).version == 1  # type: ignore[union-attr]
    await backend.state.put_state("d2", StateKind.DESIRED, {"x": 1}, T0)
    listed = dict(await backend.state.list_states(StateKind.DESIRED))
    assert set(listed) == {"d1", "d2"} and listed["d1"] == second
