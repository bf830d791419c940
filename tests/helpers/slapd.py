"""A real OpenLDAP slapd (Debian ``slapd``, ``make test-servers``) on a free port, in a temp directory.

It holds ``ou=people`` (users with passwords, and the hub's service account) and ``ou=groups``
(``groupOfNames``), loaded with ``slapadd`` before it starts; tests add and remove group members through
:meth:`Slapd.add_member` and :meth:`Slapd.remove_member`.

Given a CA (``tls``), it serves TLS too: StartTLS on :attr:`Slapd.url` and TLS from the start on
:attr:`Slapd.ldaps_url`, with a certificate for 127.0.0.1 and localhost signed by that CA, and answers nothing
but StartTLS without TLS (``security tls=1``). With ``member_of`` it runs the memberof overlay, which keeps each
member's ``memberOf`` for groups added through LDAP (:meth:`Slapd.add_group`; not for those loaded by slapadd).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import ldap3

from tests.helpers.ports import free_port
from tests.helpers.servers import ServerProcess
from tests.helpers.tls import Authority, server_certificate

SUFFIX = "dc=fieldhub,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "slapd-root-password"
SERVICE_DN = f"cn=fieldhub-service,ou=people,{SUFFIX}"
SERVICE_PASSWORD = "service-account-password"
USER_BASE = f"ou=people,{SUFFIX}"
GROUP_BASE = f"ou=groups,{SUFFIX}"
#: Groups outside ``GROUP_BASE`` (empty until a test adds some): the hub finds them only through ``memberOf``.
TEAM_BASE = f"ou=teams,{SUFFIX}"
#: Every group holds this entry, so that removing the last real member leaves a valid groupOfNames.
PLACEHOLDER_DN = f"cn=placeholder,{SUFFIX}"
#: The people of the session's directory (the ``slapd`` fixture), uid -> password.
DIRECTORY_USERS = {uid: f"{uid}-directory-password" for uid in ("dora", "olga", "pat", "uma", "rita", "lena", "ivan")}
#: Its groups, cn -> member uids; ``unmapped`` is a group the hub's settings do not name.
DIRECTORY_GROUPS = {
    "site-a-users": ["dora", "rita", "pat", "lena", "ivan"],
    "site-a-admins": ["olga"],
    "platform-admins": ["pat"],
    "unmapped": ["uma"],
}
_SCHEMAS = ("core", "cosine", "inetorgperson")
_SBIN = ("/usr/sbin", "/usr/local/sbin")


def _tool(name: str) -> str:
    for directory in ("", *_SBIN):
        path = shutil.which(name) if not directory else shutil.which(name, path=directory)
        if path:
            return path
    raise RuntimeError(f"`{name}` is missing: run `make test-servers` (Debian slapd and ldap-utils)")


def user_dn(uid: str) -> str:
    return f"uid={uid},{USER_BASE}"


def group_dn(cn: str, base: str = GROUP_BASE) -> str:
    return f"cn={cn},{base}"


class Slapd(ServerProcess):
    """slapd with back_mdb under ``work``; ``users`` maps uid to password, ``groups`` cn to member uids.

    ``tls``: the CA that signs its certificate (and serve ldaps:// besides); ``member_of``: the memberof overlay.
    """

    name = "slapd"
    log_name = "slapd.log"
    start_timeout: ClassVar[float] = 15.0
    stop_timeout: ClassVar[float] = 10.0

    def __init__(
        self,
        work: Path,
        users: dict[str, str],
        groups: dict[str, list[str]],
        *,
        tls: Authority | None = None,
        member_of: bool = False,
    ) -> None:
        super().__init__(work)
        self.users = users
        self.groups = groups
        self.tls = tls
        self.member_of = member_of
        self.port = free_port()
        self.tls_port = None if tls is None else free_port()
        self._loaded = False

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        if self.tls_port is None:
            raise RuntimeError("this slapd serves no TLS: give it a CA (tls=...)")
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def settings(self, groups: dict[str, dict[str, Any]], **overrides: Any) -> dict[str, Any]:
        """The hub's ``ldap`` settings for this directory (groups keyed by cn here, by DN there)."""
        values: dict[str, Any] = {
            "url": self.url,
            "bind_dn": SERVICE_DN,
            "bind_password": SERVICE_PASSWORD,
            "user_base": USER_BASE,
            "group_base": GROUP_BASE,
            "groups": {group_dn(cn): grant for cn, grant in groups.items()},
            "timeout_s": 1.5,
        }
        values.update(overrides)
        return values

    def kill(self) -> None:
        """End slapd at once (SIGKILL): a directory that vanishes."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def add_member(self, group: str, uid: str, base: str = GROUP_BASE) -> None:
        self._change(lambda c: c.modify(group_dn(group, base), {"member": [(ldap3.MODIFY_ADD, [user_dn(uid)])]}))

    def remove_member(self, group: str, uid: str, base: str = GROUP_BASE) -> None:
        self._change(lambda c: c.modify(group_dn(group, base), {"member": [(ldap3.MODIFY_DELETE, [user_dn(uid)])]}))

    def add_group(self, cn: str, members: list[str], base: str = GROUP_BASE) -> None:
        """A ``groupOfNames`` added through LDAP, so that the memberof overlay (if on) writes members' ``memberOf``."""
        attributes = {"cn": cn, "member": [PLACEHOLDER_DN, *(user_dn(uid) for uid in members)]}
        self._change(lambda c: c.add(group_dn(cn, base), "groupOfNames", attributes))

    def member_of_attribute(self, uid: str) -> list[str]:
        """The ``memberOf`` slapd keeps for a user (to check the overlay did its part)."""

        def read(conn: ldap3.Connection) -> bool:
            return conn.search(user_dn(uid), "(objectClass=*)", ldap3.BASE, attributes=["memberOf"])

        conn = self._root()
        try:
            assert read(conn), conn.result
            return [str(dn) for dn in conn.entries[0].entry_attributes_as_dict.get("memberOf", [])]
        finally:
            conn.unbind()

    def _change(self, change: Callable[[ldap3.Connection], bool]) -> None:
        conn = self._root()
        try:
            assert change(conn), conn.result
        finally:
            conn.unbind()

    def _root(self) -> ldap3.Connection:
        if self.tls is None:
            return ldap3.Connection(ldap3.Server(self.url, get_info=ldap3.NONE), ROOT_DN, ROOT_PASSWORD, auto_bind=True)
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.tls.cert))
        server = ldap3.Server(self.url, get_info=ldap3.NONE, tls=tls)
        return ldap3.Connection(server, ROOT_DN, ROOT_PASSWORD, auto_bind=ldap3.AUTO_BIND_TLS_BEFORE_BIND)

    def _prepare(self) -> list[str]:
        config = self.work / "slapd.conf"
        if not self._loaded:
            (self.work / "db").mkdir()
            config.write_text(self._config())
            subprocess.run([_tool("slaptest"), "-f", str(config), "-u"], check=True, capture_output=True)
            ldif = self.work / "seed.ldif"
            ldif.write_text(self._ldif())
            subprocess.run([_tool("slapadd"), "-f", str(config), "-l", str(ldif)], check=True, capture_output=True)
            self._loaded = True
        listeners = f"{self.url}/" if self.tls_port is None else f"{self.url}/ {self.ldaps_url}/"
        return [_tool("slapd"), "-f", str(config), "-h", listeners, "-d", "0"]

    def _readiness(self) -> Callable[[], bool]:
        def answers() -> bool:
            for port in (self.port, self.tls_port):
                if port is not None:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        pass
            return True

        return answers

    def _config(self) -> str:
        hashed = subprocess.run(
            [_tool("slappasswd"), "-s", ROOT_PASSWORD], check=True, capture_output=True, text=True
        ).stdout.strip()
        schemas = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in _SCHEMAS)
        tls = ""
        if self.tls is not None:
            cert, key = server_certificate(self.tls, self.work / "tls")
            # Nothing but StartTLS without TLS: a client that skipped StartTLS is refused, not served in clear.
            tls = (
                f"TLSCACertificateFile {self.tls.cert}\nTLSCertificateFile {cert}\n"
                f"TLSCertificateKeyFile {key}\nsecurity tls=1\n"
            )
        overlay = ("moduleload memberof\n", "overlay memberof\n") if self.member_of else ("", "")
        return f"""{schemas}
pidfile {self.work}/slapd.pid
argsfile {self.work}/slapd.args
{tls}modulepath /usr/lib/ldap
moduleload back_mdb
{overlay[0]}database mdb
maxsize 16777216
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {hashed}
directory {self.work}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
{overlay[1]}"""

    def _ldif(self) -> str:
        entries = [
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: fieldhub\no: Fieldhub tests",
            f"dn: {USER_BASE}\nobjectClass: organizationalUnit\nou: people",
            f"dn: {GROUP_BASE}\nobjectClass: organizationalUnit\nou: groups",
            f"dn: {TEAM_BASE}\nobjectClass: organizationalUnit\nou: teams",
            f"dn: {PLACEHOLDER_DN}\nobjectClass: organizationalRole\ncn: placeholder",
            f"dn: {SERVICE_DN}\nobjectClass: inetOrgPerson\ncn: fieldhub-service\nsn: service\n"
            f"userPassword: {SERVICE_PASSWORD}",
        ]
        for uid, password in self.users.items():
            entries.append(
                f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
                f"userPassword: {password}"
            )
        for cn, members in self.groups.items():
            lines = "".join(f"\nmember: {user_dn(uid)}" for uid in members)
            entries.append(f"dn: {group_dn(cn)}\nobjectClass: groupOfNames\ncn: {cn}\nmember: {PLACEHOLDER_DN}{lines}")
        return "\n\n".join(entries) + "\n"
