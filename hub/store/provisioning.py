"""The provisioning store: the tenants' enrollment tokens for new gateways (only a hash of each secret)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ProvisioningTokenRecord:
    """A tenant's enrollment token for new gateways; only a hash of its secret is kept."""

    id: str
    tenant: str
    secret_hash: str
    expires: int
    uses_left: int
    labels: dict[str, str]
    created_by: str
    created: int


class ProvisioningStore(Protocol):
    """Enrollment tokens. Implementations are async and safe to share."""

    async def create_token(self, token: ProvisioningTokenRecord) -> None:
        """Insert a provisioning token; :class:`hub.errors.Conflict` if the id exists."""

    async def get_token(self, token_id: str) -> ProvisioningTokenRecord | None:
        """One token or ``None``."""

    async def list_tokens(self, tenant: str | None) -> list[ProvisioningTokenRecord]:
        """Tokens of one tenant (all when ``None``), newest first."""

    async def use_token(self, token_id: str, now: int) -> bool:
        """Take one use of a token atomically; ``False`` if it is gone, expired or used up."""

    async def delete_token(self, token_id: str) -> bool:
        """Revoke a token; ``False`` if it did not exist."""
