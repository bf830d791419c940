"""The provisioning store's contract (enrollment tokens): every backend passes it."""

from __future__ import annotations

import pytest

from hub.errors import Conflict, InvalidInput
from hub.store.backend import Backend
from hub.store.provisioning import ProvisioningTokenRecord
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)


async def test_provisioning_tokens_are_used_up_and_expire(backend: Backend) -> None:
    await with_devices(backend, tenant="ta")

    def token(token_id: str, uses: int, expires: int) -> ProvisioningTokenRecord:
        return ProvisioningTokenRecord(token_id, "ta", "h", expires, uses, {"site": "n"}, "admin", T0)

    await backend.provisioning.create_token(token("pt-1", 2, T0 + 1000))
    await backend.provisioning.create_token(token("pt-2", 1, T0 + 10))
    with pytest.raises(Conflict):
        await backend.provisioning.create_token(token("pt-1", 1, T0))
    with pytest.raises(InvalidInput):
        await backend.provisioning.create_token(ProvisioningTokenRecord("pt-x", "nope", "h", T0, 1, {}, "admin", T0))
    assert (await backend.provisioning.get_token("pt-1")) == token("pt-1", 2, T0 + 1000)
    assert {t.id for t in await backend.provisioning.list_tokens("ta")} == {"pt-1", "pt-2"}
    assert await backend.provisioning.list_tokens("other") == []
    assert await backend.provisioning.use_token("pt-1", T0) and await backend.provisioning.use_token("pt-1", T0)
    assert not await backend.provisioning.use_token("pt-1", T0)  # used up
    assert not await backend.provisioning.use_token("pt-2", T0 + 10)  # expired
    assert not await backend.provisioning.use_token("ghost", T0)
    assert (await backend.provisioning.get_token("pt-1")).uses_left == 0  # type: ignore[union-attr]
    assert await backend.provisioning.delete_token("pt-2") and not await backend.provisioning.delete_token("pt-2")
