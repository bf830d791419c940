"""Directory sign-in over LDAP (ldap3): an identity provider (see :mod:`cloud.identity.providers`).

A sign-in finds the user with the service account (``ldap.user_filter``, the username escaped as RFC 4515
asks), binds as that user with the given password, then reads the user's groups (groups under
``ldap.group_base`` naming the user in ``member`` or ``uniqueMember``, and the user's own ``memberOf``).
The first group of ``ldap.groups`` the user belongs to decides role and tenant, in this order: a platform
admin group (role ``admin``, no tenant), then tenant admin groups, then user groups; among equals, the order
of ``ldap.groups``. No mapped group is refused exactly like a wrong password.

ldap3 blocks: every request runs in this provider's own thread pool, with connect and answer timeouts, and a
whole sign-in has ``2 * timeout_s`` before it fails with :class:`DirectoryUnavailable`. Service-account
connections are kept open for reuse (``ldap.pool_size``); a user's own bind uses a connection of its own.

TLS (ldaps:// or StartTLS) always verifies the directory's certificate and name, against ``ldap.ca_file`` when
set, else the system's CAs; a certificate that does not verify fails the TLS handshake: the directory is
unavailable, with the reason in the log.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import re
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from cloud.identity.principals import Principal, Role
from hub.errors import ConfigError, DirectoryUnavailable
from hub.logutil import RateLimitedLog
from hub.store.identity import IdentityStore

if TYPE_CHECKING:
    from cloud.settings import LdapGroup, LdapSettings

log = logging.getLogger(__name__)
#: What a caller is told when the directory cannot be asked.
UNAVAILABLE = "the directory cannot be reached now; try again later (local users can still sign in)"
T = TypeVar("T")
SOURCE = "ldap"
_INVALID_CREDENTIALS = 49
#: The reason in OpenSSL's text, e.g. "self-signed certificate in certificate chain", "Hostname mismatch, ...".
_VERIFY_FAILED = re.compile(r"certificate verify failed: (.+?)\.? \(_ssl")


def user_filter(template: str, username: str) -> str:
    """``template`` with ``{username}`` replaced by ``username`` escaped (RFC 4515): ``*)(uid=*`` stays a name."""
    return template.replace("{username}", escape_filter_chars(username))


def normal_dn(dn: str) -> str:
    """A DN in one spelling (lower case, no spaces around ``=`` and ``,``), to compare group DNs."""
    try:
        return ",".join(f"{attr.lower()}={value.lower()}" for attr, value, _ in parse_dn(dn, strip=True))
    except LDAPInvalidDnError:
        return dn.strip().lower()


def _rank(group: LdapGroup) -> int:
    if group.role == "admin":
        return 0 if group.tenant is None else 1
    return 2


@dataclass(frozen=True, slots=True)
class Grant:
    """What a mapped group gives: a role in a tenant (``None``: platform admin)."""

    group: str
    role: Role
    tenant: str | None


def choose_grant(groups: dict[str, LdapGroup], member_of: set[str]) -> Grant | None:
    """The first mapped group among ``member_of`` (normal DNs): platform admin > admin > user, then config order."""
    ordered = sorted(enumerate(groups.items()), key=lambda item: (_rank(item[1][1]), item[0]))
    for _, (dn, group) in ordered:
        if normal_dn(dn) in member_of:
            return Grant(dn, Role(group.role), group.tenant)
    return None


class _VerifyingTls(ldap3.Tls):
    """ldap3's TLS, with the directory's name checked by OpenSSL during the handshake.

    ldap3 turns the context's name check off and compares names itself after the handshake, leaving the TLS
    socket of a mismatch open until it is garbage collected; a handshake that fails here closes its socket.
    """

    def __init__(self, ca_file: Path | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=None if ca_file is None else str(ca_file))
        try:
            # The defaults: certificate and name required, TLS 1.2 at least; ca_file alone when given.
            self._context = ssl.create_default_context(cafile=self.ca_certs_file)
        except ssl.SSLError as exc:
            raise ConfigError(f"ldap.ca_file {ca_file} holds no usable CA certificate: {exc}") from exc

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(
            connection.socket, server_hostname=connection.server.host, do_handshake_on_connect=do_handshake
        )


class _Refused(Exception):
    """The directory answered, and the answer is no (unknown or ambiguous user, wrong password)."""


class DirectoryProvider:
    """Signs directory users in; ``async with`` owns its threads and pooled connections."""

    name = SOURCE

    def __init__(self, settings: LdapSettings, store: IdentityStore) -> None:
        if settings.url is None or settings.user_base is None:
            raise ValueError("DirectoryProvider needs ldap.url and ldap.user_base")
        self._settings = settings
        self._store = store
        self._user_base = settings.user_base
        self._deadline_s = 2 * settings.timeout_s
        tls = _VerifyingTls(settings.ca_file) if settings.encrypted else None
        self._server = ldap3.Server(settings.url, get_info=ldap3.NONE, tls=tls, connect_timeout=settings.timeout_s)
        self._pool: queue.LifoQueue[ldap3.Connection] = queue.LifoQueue(maxsize=settings.pool_size)
        # Room for the pooled searches and as many users' own binds at once.
        self._threads = ThreadPoolExecutor(max_workers=2 * settings.pool_size, thread_name_prefix="ldap")
        self._log = RateLimitedLog(log)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        while True:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                break
            _close(conn)

    async def authenticate(self, username: str, password: str) -> Principal | None:
        """The principal of a directory user in a mapped group, or ``None`` (unknown, wrong password, no group).

        :class:`DirectoryUnavailable` when the directory cannot be reached or does not answer in time.
        """
        name = username.strip().lower()
        # An empty password would be an anonymous bind, which directories accept: never a sign-in.
        if not name or not password:
            return None
        existing = await self._store.get_user(name)
        if existing is not None and (existing.source != SOURCE or existing.disabled):
            # A local user's name: the local user wins, the directory is not asked. A disabled one stays out.
            return None
        started = time.monotonic()
        try:
            member_of = await self._run(lambda: self._sign_in(username.strip(), password))
        except _Refused:
            return None
        except DirectoryUnavailable as exc:
            # Why is for operators (this log, and /healthz says down); whoever signs in learns only that the
            # directory is away, not how the hub reaches it.
            self._log.warning("unavailable", "directory sign-in failed: %s", exc.message)
            raise DirectoryUnavailable(UNAVAILABLE) from exc
        grant = choose_grant(self._settings.groups, member_of)
        if grant is None:
            log.info("directory user %s is in no mapped group: refused", name)
            return None
        record = await self._store.record_directory_user(name, grant.role.value, grant.tenant, int(time.time() * 1000))
        if record is None:
            return None  # a local user of that name was created meanwhile
        log.info(
            "directory user %s signed in as %s of %s (group %s, %.0f ms)",
            name,
            grant.role.value,
            grant.tenant or "the platform",
            grant.group,
            (time.monotonic() - started) * 1000,
        )
        return Principal(
            record.username,
            Role(record.role),
            record.tenant,
            token_version=record.token_version,
            source=SOURCE,
            token_ttl_s=self._settings.recheck_s,
        )

    async def state(self) -> str:
        """``ok`` when the service account can search the user base now, else ``down`` (for ``/healthz``)."""
        try:
            await self._run(self._ping)
        except (DirectoryUnavailable, _Refused):
            return "down"
        return "ok"

    async def _run(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._deadline_s):
                return await loop.run_in_executor(self._threads, work)
        except TimeoutError as exc:
            raise DirectoryUnavailable(f"the directory did not answer within {self._deadline_s:g} s") from exc
        except RuntimeError as exc:  # the pool is shut down: the hub is stopping
            raise DirectoryUnavailable("the directory client is closed") from exc

    # Everything below runs in the provider's threads.

    def _sign_in(self, username: str, password: str) -> set[str]:
        entries = self._with_service(
            lambda c: _search(
                c,
                self._user_base,
                user_filter(self._settings.user_filter, username),
                ["memberOf"],
                size_limit=2,
            )
        )
        if len(entries) != 1:
            # Nobody, or more than one entry: never guess which of two people this is.
            raise _Refused
        dn, attributes = entries[0]
        self._bind_as(dn, password)
        member_of = {normal_dn(str(g)) for g in attributes.get("memberOf", [])}
        if self._settings.group_base:
            escaped = escape_filter_chars(dn)
            groups = self._with_service(
                lambda c: _search(
                    c,
                    str(self._settings.group_base),
                    f"(|(member={escaped})(uniqueMember={escaped}))",
                    ldap3.NO_ATTRIBUTES,
                )
            )
            member_of.update(normal_dn(group_dn) for group_dn, _ in groups)
        return member_of

    def _ping(self) -> None:
        self._with_service(lambda c: _search(c, self._user_base, "(objectClass=*)", ldap3.NO_ATTRIBUTES, scope="BASE"))

    def _connect(self, user: str | None, password: str | None) -> ldap3.Connection:
        conn = ldap3.Connection(
            self._server,
            user=user,
            password=password,
            auto_bind=ldap3.AUTO_BIND_NONE,
            read_only=True,
            # ldap3 packs it into SO_RCVTIMEO as whole seconds.
            receive_timeout=math.ceil(self._settings.timeout_s),
            raise_exceptions=False,
        )
        try:
            conn.open()
            secured = not self._settings.start_tls or conn.start_tls()
        except LDAPException as exc:
            _close(conn)
            raise DirectoryUnavailable(_unreachable(exc)) from exc
        if not secured:
            _close(conn)
            raise DirectoryUnavailable(f"StartTLS with the directory failed: {_describe(conn)}")
        return conn

    def _bind_as(self, dn: str, password: str) -> None:
        conn = self._connect(dn, password)
        try:
            if conn.bind():
                return
            if conn.result.get("result") == _INVALID_CREDENTIALS:
                raise _Refused
            raise DirectoryUnavailable(f"the directory refused a user's bind: {_describe(conn)}")
        except LDAPException as exc:
            raise DirectoryUnavailable(f"the directory failed during a bind: {exc}") from exc
        finally:
            _close(conn)

    def _service_connection(self) -> ldap3.Connection:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        settings = self._settings
        password = None if settings.bind_password is None else settings.bind_password.get_secret_value()
        conn = self._connect(settings.bind_dn, password)
        try:
            bound = conn.bind()
        except LDAPException as exc:
            _close(conn)
            raise DirectoryUnavailable(f"the directory failed during the service bind: {exc}") from exc
        if not bound:
            _close(conn)
            log.error("the directory refused ldap.bind_dn %s: %s", settings.bind_dn, _describe(conn))
            raise DirectoryUnavailable("the directory refused the service account (ldap.bind_dn)")
        return conn

    def _with_service(self, work: Callable[[ldap3.Connection], T]) -> T:
        """``work`` on a pooled service connection; a connection the server dropped is replaced once."""
        for attempt in (1, 2):
            reused = not self._pool.empty()
            conn = self._service_connection()
            try:
                result = work(conn)
            except LDAPException as exc:
                _close(conn)
                if attempt == 1 and reused:
                    continue  # a pooled connection the directory closed meanwhile (a restart): try a new one
                raise DirectoryUnavailable(f"the directory failed: {exc}") from exc
            except BaseException:
                _close(conn)
                raise
            try:
                self._pool.put_nowait(conn)
            except queue.Full:
                _close(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover


def _search(
    conn: ldap3.Connection,
    base: str,
    search_filter: str,
    attributes: Any,
    *,
    scope: Literal["BASE", "LEVEL", "SUBTREE"] = "SUBTREE",
    size_limit: int = 0,
) -> list[tuple[str, dict[str, Any]]]:
    """Entries as ``(dn, attributes)``; :class:`DirectoryUnavailable` for any failure but "no such base"."""
    conn.search(base, search_filter, scope, attributes=attributes, size_limit=size_limit)
    code = conn.result.get("result")
    # 0 success, 4 size limit exceeded (more than asked for: the caller sees it), 32 no such object (nobody).
    if code not in (0, 4, 32):
        raise DirectoryUnavailable(f"a directory search failed: {_describe(conn)}")
    return [
        (str(entry["dn"]), dict(entry.get("attributes", {})))
        for entry in conn.response or []
        if entry.get("type") == "searchResEntry"
    ]


def _unreachable(exc: LDAPException) -> str:
    """Why a connection failed; a certificate that did not verify is said plainly (ldap3 nests it in its text)."""
    found = _VERIFY_FAILED.search(str(exc))
    if found is None:
        return f"cannot reach the directory: {exc}"
    reason = found.group(1).replace("\\", "")  # quotes come escaped once per level of ldap3's nesting
    return f"the directory's certificate did not verify (ldap.ca_file, else the system's CAs): {reason}"


def _describe(conn: ldap3.Connection) -> str:
    result = conn.result or {}
    return f"{result.get('description', 'no answer')} ({result.get('result', '-')})"


def _close(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except LDAPException:
        log.debug("closing a directory connection failed", exc_info=True)
    # After a socket error ldap3 marks the connection closed but may keep its socket open.
    sock = getattr(conn, "socket", None)
    if sock is not None:
        sock.close()
