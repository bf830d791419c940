"""The ``[ldap]`` settings and the pure parts of directory sign-in: filter escaping, group precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.identity.ldap import DirectoryProvider, choose_grant, normal_dn, user_filter
from cloud.identity.principals import Principal, Role
from cloud.identity.tokens import TokenService
from cloud.settings import LdapGroup, load_settings
from hub.errors import ConfigError

pytestmark = pytest.mark.timeout(10)

GROUPS = {"cn=users,ou=groups,dc=x": {"role": "user", "tenant": "t1"}}
BASE = {"url": "ldap://127.0.0.1:389", "user_base": "ou=people,dc=x", "groups": GROUPS}


def test_the_environment_configures_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "bind.secret"
    secret.write_text("service-password\n")
    monkeypatch.setenv("FIELDHUB_LDAP__URL", "ldaps://dir.example.org")
    monkeypatch.setenv("FIELDHUB_LDAP__BIND_DN", "cn=svc,dc=x")
    monkeypatch.setenv("FIELDHUB_LDAP__BIND_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("FIELDHUB_LDAP__USER_BASE", "ou=people,dc=x")
    monkeypatch.setenv("FIELDHUB_LDAP__GROUPS", json.dumps({"cn=ops,dc=x": {"role": "admin", "tenant": None}}))
    ldap = load_settings().ldap
    assert ldap.bind_password is not None and ldap.bind_password.get_secret_value() == "service-password"
    assert ldap.groups == {"cn=ops,dc=x": LdapGroup(role="admin", tenant=None)}
    assert (ldap.user_filter, ldap.recheck_s, ldap.timeout_s, ldap.encrypted) == ("(uid={username})", 300, 2.0, True)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"url": "http://dir"}, "ldap.url must be ldap://host[:port] or ldaps://host[:port]"),
        ({"url": "ldaps://dir", "start_tls": True}, "ldap.start_tls is for ldap:// URLs"),
        ({"user_base": None}, "ldap.url needs ldap.user_base"),
        ({"groups": {}}, "ldap.url needs ldap.groups"),
        ({"bind_dn": "cn=svc,dc=x"}, "ldap.bind_dn and ldap.bind_password"),
        ({"bind_password_file": "/nonexistent/secret"}, "cannot read ldap.bind_password_file"),
        (
            {"url": "ldaps://dir", "ca_file": "/nonexistent/ca.pem"},
            "ldap.ca_file /nonexistent/ca.pem is not a readable",
        ),
        ({"user_filter": "uid={username}"}, "ldap.user_filter must be a parenthesized filter"),
        ({"user_filter": "(&(uid={username})(o={org}))"}, "ldap.user_filter must be a parenthesized filter"),
        ({"groups": {"cn=u,dc=x": {"role": "user", "tenant": None}}}, 'its role must be "admin"'),
        ({"groups": {"cn=u,dc=x": {"role": "owner", "tenant": "t1"}}}, "groups.cn=u,dc=x.role"),
        ({"timeout_s": 60}, "ldap.timeout_s"),
        ({"recheck_s": 1}, "ldap.recheck_s"),
        # Passwords in clear over the network are refused outside --demo (loopback is fine: see above).
        ({"url": "ldap://dir.example.org"}, "ldap.url sends passwords in clear"),
    ],
)
def test_wrong_directory_settings_are_refused_clearly(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(ldap={**BASE, **changes})
    assert problem in info.value.message


def test_start_tls_or_ldaps_or_demo_allow_a_remote_directory() -> None:
    assert load_settings(ldap={**BASE, "url": "ldap://dir.example.org", "start_tls": True}).ldap.encrypted
    assert load_settings(ldap={**BASE, "url": "ldaps://dir.example.org:636"}).ldap.encrypted
    assert load_settings(demo=True, ldap={**BASE, "url": "ldap://dir.example.org"}).ldap.url
    assert load_settings().ldap.url is None  # no directory unless configured


def test_a_ca_file_without_a_certificate_is_refused_at_start(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not a certificate\n")
    ldap = load_settings(ldap={**BASE, "url": "ldaps://dir.example.org", "ca_file": str(ca_file)}).ldap
    with pytest.raises(ConfigError, match=r"ldap\.ca_file .* holds no usable CA certificate"):
        DirectoryProvider(ldap, store=None)  # type: ignore[arg-type]  # refused before any store is used


def test_usernames_are_escaped_into_the_filter() -> None:
    assert user_filter("(uid={username})", "dora") == "(uid=dora)"
    assert user_filter("(uid={username})", "*)(uid=*") == r"(uid=\2a\29\28uid=\2a)"
    assert user_filter("(&(objectClass=person)(mail={username}))", "a\\b") == r"(&(objectClass=person)(mail=a\5cb))"


def test_the_first_mapped_group_decides_platform_admin_then_admin_then_user() -> None:
    groups = {
        "cn=users,dc=x": LdapGroup(role="user", tenant="t1"),
        "cn=other-users,dc=x": LdapGroup(role="user", tenant="t2"),
        "cn=admins,dc=x": LdapGroup(role="admin", tenant="t2"),
        "cn=root,dc=x": LdapGroup(role="admin", tenant=None),
    }

    def grant(*dns: str) -> tuple[Role, str | None] | None:
        chosen = choose_grant(groups, {normal_dn(dn) for dn in dns})
        return None if chosen is None else (chosen.role, chosen.tenant)

    assert grant("cn=users,dc=x", "cn=root,dc=x") == (Role.ADMIN, None)
    assert grant("cn=users,dc=x", "cn=admins,dc=x") == (Role.ADMIN, "t2")
    assert grant("cn=other-users,dc=x", "CN=Users, DC=x") == (Role.USER, "t1")  # the settings' order among equals
    assert grant("cn=unmapped,dc=x") is None


def test_a_config_file_gives_the_groups_as_json(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        '[ldap]\nurl = "ldap://localhost"\nuser_base = "ou=people,dc=x"\n'
        'groups = """{"cn=ops,dc=x": {"role": "admin", "tenant": null},\n'
        '"cn=u,dc=x": {"role": "user", "tenant": "t1"}}"""\n'
    )
    ldap = load_settings(config).ldap
    assert list(ldap.groups.values()) == [LdapGroup(role="admin", tenant=None), LdapGroup(role="user", tenant="t1")]
    config.write_text('[ldap]\nurl = "ldap://localhost"\nuser_base = "ou=people,dc=x"\ngroups = "{oops"\n')
    with pytest.raises(ConfigError, match=r"ldap\.groups is not a JSON object"):
        load_settings(config)


def test_a_directory_users_tokens_live_at_most_recheck_s() -> None:
    tokens = TokenService("k" * 32, 600, store=None)  # type: ignore[arg-type]  # ttl_for asks no store
    assert tokens.ttl_for(Principal("dora", Role.USER, "t1", source="ldap", token_ttl_s=300)) == 300
    assert tokens.ttl_for(Principal("dora", Role.USER, "t1", source="ldap", token_ttl_s=3600)) == 600
    assert tokens.ttl_for(Principal("alice", Role.USER, "t1")) == 600
