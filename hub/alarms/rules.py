"""The tenants' alarm rules: create, read, change and remove them, checked against the profiles and channels
they name (the API's and the CLI's way in; evaluators pick changes up from the store)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from contracts.alarms import Rule, RuleCreate, RulePatch
from hub.clock import now_ms
from hub.errors import Conflict, InvalidInput, NotFound
from hub.store.alarms import AlarmStore
from hub.store.channels import ChannelStore
from hub.store.profiles import ProfileStore

#: Rules a tenant may keep.
MAX_RULES_PER_TENANT = 2000


class Rules:
    """Rules of every tenant in the store; every call names the tenant it acts in."""

    def __init__(
        self,
        store: AlarmStore,
        profiles: ProfileStore,
        channels: ChannelStore,
        *,
        changed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``changed`` is awaited after every change: this process's evaluators apply it at once (the others
        within their refresh)."""
        self._store = store
        self._profiles = profiles
        self._channels = channels
        self._changed = changed

    async def create(self, tenant: str, body: RuleCreate) -> Rule:
        """A new rule. Raises InvalidInput (a profile or channel it names is not the tenant's), Conflict."""
        if len(await self._store.list_rules(tenant)) >= MAX_RULES_PER_TENANT:
            raise InvalidInput(f"a tenant has at most {MAX_RULES_PER_TENANT} rules; remove one first")
        now = now_ms()
        rule = Rule(
            **body.model_dump(exclude={"id"}),
            id=body.id or f"r-{secrets.token_hex(6)}",
            tenant=tenant,
            created=now,
            updated=now,
        )
        await self._check_names(rule)
        await self._store.add_rule(rule)
        await self._applied()
        return rule

    async def get(self, tenant: str, rule_id: str) -> Rule:
        found = await self._store.get_rule(tenant, rule_id)
        if found is None:
            raise NotFound("rule", rule_id)
        return found

    async def list(self, tenant: str | None) -> list[Rule]:
        return await self._store.list_rules(tenant)

    async def update(self, tenant: str, rule_id: str, patch: RulePatch) -> Rule:
        """The rule with the fields of ``patch`` replaced, checked whole again. Raises NotFound, InvalidInput."""
        rule = await self.get(tenant, rule_id)
        fields = {**rule.model_dump(), **patch.model_dump(exclude_unset=True), "updated": now_ms()}
        try:
            changed = Rule.model_validate(fields)
        except ValidationError as exc:
            raise InvalidInput(f"the rule after this change: {_first_problem(exc)}") from None
        await self._check_names(changed)
        if not await self._store.put_rule(changed):
            raise NotFound("rule", rule_id)
        await self._applied()
        return changed

    async def delete(self, tenant: str, rule_id: str) -> None:
        """Remove a rule; its alarms stay as history. Raises NotFound."""
        if not await self._store.delete_rule(tenant, rule_id):
            raise NotFound("rule", rule_id)
        await self._applied()

    async def release_channel(self, tenant: str, channel_id: str) -> None:
        """Check that no rule of ``tenant`` names the channel, before it is removed. Raises Conflict."""
        naming = [rule.id for rule in await self._store.list_rules(tenant) if channel_id in rule.channels]
        if naming:
            shown = ", ".join(naming[:5]) + (" ..." if len(naming) > 5 else "")
            raise Conflict(f"channel {channel_id} is named by {len(naming)} rule(s) ({shown}); change them first")

    async def _applied(self) -> None:
        if self._changed is not None:
            await self._changed()

    async def _check_names(self, rule: Rule) -> None:
        if rule.profile is not None and await self._profiles.get_profile(rule.tenant, rule.profile) is None:
            raise InvalidInput(f"profile {rule.profile!r} is not one of the tenant's profiles")
        for channel in rule.channels:
            if await self._channels.get_channel(channel, rule.tenant) is None:
                raise InvalidInput(f"channel {channel!r} is not one of the tenant's channels")


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
