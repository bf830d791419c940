"""A real OpenLDAP slapd (Debian ``slapd``, ``make test-servers``) on a free port, in a temp directory.

It holds ``ou=people`` (users with passwords, and the hub's service account) and ``ou=groups``
(``groupOfNames``), loaded with ``slapadd`` before it starts; tests add and remove group members through
:meth:`Slapd.add_member` and :meth:`Slapd.remove_member`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import ldap3

from tests.helpers.ports import free_port
from tests.helpers.servers import ServerProcess

SUFFIX = "dc=fieldhub,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "slapd-root-password"
SERVICE_DN = f"cn=fieldhub-service,ou=people,{SUFFIX}"
SERVICE_PASSWORD = "service-account-password"
USER_BASE = f"ou=people,{SUFFIX}"
GROUP_BASE = f"ou=groups,{SUFFIX}"
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


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUP_BASE}"


class Slapd(ServerProcess):
    """slapd with back_mdb under ``work``; ``users`` maps uid to password, ``groups`` cn to member uids."""

    name = "slapd"
    log_name = "slapd.log"
    start_timeout: ClassVar[float] = 15.0
    stop_timeout: ClassVar[float] = 10.0

    def __init__(self, work: Path, users: dict[str, str], groups: dict[str, list[str]]) -> None:
        super().__init__(work)
        self.users = users
        self.groups = groups
        self.port = free_port()
        self._loaded = False

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

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

    def add_member(self, group: str, uid: str) -> None:
        self._modify(group, {"member": [(ldap3.MODIFY_ADD, [user_dn(uid)])]})

    def remove_member(self, group: str, uid: str) -> None:
        self._modify(group, {"member": [(ldap3.MODIFY_DELETE, [user_dn(uid)])]})

    def _modify(self, group: str, changes: dict[str, Any]) -> None:
        conn = ldap3.Connection(ldap3.Server(self.url, get_info=ldap3.NONE), ROOT_DN, ROOT_PASSWORD, auto_bind=True)
        try:
            assert conn.modify(group_dn(group), changes), conn.result
        finally:
            conn.unbind()

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
        return [_tool("slapd"), "-f", str(config), "-h", f"{self.url}/", "-d", "0"]

    def _readiness(self) -> Callable[[], bool]:
        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True

        return answers

    def _config(self) -> str:
        hashed = subprocess.run(
            [_tool("slappasswd"), "-s", ROOT_PASSWORD], check=True, capture_output=True, text=True
        ).stdout.strip()
        schemas = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in _SCHEMAS)
        return f"""{schemas}
pidfile {self.work}/slapd.pid
argsfile {self.work}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 16777216
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {hashed}
directory {self.work}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"""

    def _ldif(self) -> str:
        entries = [
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: fieldhub\no: Fieldhub tests",
            f"dn: {USER_BASE}\nobjectClass: organizationalUnit\nou: people",
            f"dn: {GROUP_BASE}\nobjectClass: organizationalUnit\nou: groups",
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
