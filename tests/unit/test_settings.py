"""Settings: precedence, config-file errors that name the file and key, insecure values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.settings import load_replica_settings, load_settings
from hub.errors import ConfigError

STRONG = "a-strong-admin-password"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FIELDHUB_ADMIN_PASSWORD", "FIELDHUB_MQTT_PORT", "FIELDHUB_INGEST__MAX_VALUES", "FIELDHUB_DEMO"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_loopback_and_production_grade() -> None:
    s = load_settings()
    assert (s.host, s.mqtt_port, s.http_port) == ("127.0.0.1", 1883, 8080)
    assert s.scrypt_n == 2**14 and s.ingest.max_payload_bytes == 256 * 1024
    assert s.store_url == f"sqlite:///{Path('data') / 'fieldhub.db'}"


def test_file_then_env_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('mqtt_port = 1000\nhttp_port = 2000\nhost = "0.0.0.0"\n[ingest]\nmax_values = 5\n')
    monkeypatch.setenv("FIELDHUB_MQTT_PORT", "1001")
    monkeypatch.setenv("FIELDHUB_INGEST__MAX_VALUES", "7")
    s = load_settings(config, http_port=2001)
    assert (s.mqtt_port, s.http_port, s.host, s.ingest.max_values) == (1001, 2001, "0.0.0.0", 7)
    assert s.http_url(2001) == "http://127.0.0.1:2001"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("mqtt_port = [", "is not valid TOML"),
        ("mqtt_prot = 1883", "mqtt_prot: Extra inputs are not permitted"),
        ("mqtt_port = 70000", "mqtt_port: Input should be less than or equal to 65535"),
        ("[ingest]\nmax_payload_bytes = 1", "ingest.max_payload_bytes"),
        ("[ingest]\nbogus = 1", "ingest.bogus"),
    ],
)
def test_config_file_errors_name_file_and_key(tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert str(config) in info.value.message
    assert expected in info.value.message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*missing\.toml"):
        load_settings(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"admin_password": "admin"}, "admin_password must have at least 12 characters"),
        ({"admin_password": "short"}, "admin_password must have at least 12 characters"),
        ({"secret_key": "too-short"}, "secret_key must have at least 32 characters"),
        ({"scrypt_n": 1024}, "scrypt_n below 16384"),
        ({"broker_hook_token": "too-short"}, "broker_hook_token must have at least 32 characters"),
    ],
)
def test_insecure_settings_are_refused_outside_demo(overrides: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match="insecure settings refused outside --demo") as info:
        load_settings(**overrides)
    assert problem in info.value.message
    # The refusal never echoes the secret it refused.
    for value in overrides.values():
        if isinstance(value, str):
            assert f"'{value}'" not in info.value.message
    assert load_settings(demo=True, **overrides).demo


def test_scrypt_cost_must_be_a_power_of_two() -> None:
    with pytest.raises(ConfigError, match="power of two"):
        load_settings(scrypt_n=20_000)


def test_strong_settings_pass() -> None:
    s = load_settings(admin_password=STRONG, secret_key="k" * 32)
    assert s.admin_password is not None and s.admin_password.get_secret_value() == STRONG
    assert STRONG not in repr(s)


def test_a_tls_listener_needs_its_certificate_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mqtts_port needs tls_cert_file"):
        load_settings(demo=True, mqtts_port=8883)
    cert = tmp_path / "cert.pem"
    cert.write_text("pem")
    with pytest.raises(ConfigError, match="mqtts_port needs tls_key_file"):
        load_settings(demo=True, mqtts_port=8883, tls_cert_file=cert, tls_key_file=tmp_path / "missing.pem")
    s = load_settings(demo=True, mqtts_port=8883, tls_cert_file=cert, tls_key_file=cert)
    assert s.mqtts_port == 8883


def test_streams_from_env_flags_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDHUB_STREAM", "nats://10.0.0.1:4222, nats://10.0.0.2:4222")
    assert load_settings(demo=True).stream == ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]
    assert load_settings(demo=True, stream=["nats://h:1"]).stream == ["nats://h:1"]
    assert load_settings(demo=True, stream=["kafka://h:9092"]).stream == ["kafka://h:9092"]
    with pytest.raises(
        ConfigError, match="unknown stream 'amqp://h:5672': use one of nats://host:4222, kafka://host:9092"
    ):
        load_settings(demo=True, stream=["amqp://h:5672"])
    monkeypatch.setenv("FIELDHUB_STREAM", "not a url")
    with pytest.raises(ConfigError, match="stream"):
        load_settings(demo=True)


def test_each_process_has_its_settings_and_backends_their_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDHUB_MOSQUITTO__USERNAME", "hub-account")
    monkeypatch.setenv("FIELDHUB_MOSQUITTO__PASSWORD", "a-secret")
    replica = load_replica_settings(broker="mqtt://10.0.0.5:1883", replica_id="r1", probe_port=0)
    assert (replica.mosquitto.username, replica.replica_id, replica.probe_port) == ("hub-account", "r1", 0)
    assert replica.mosquitto.password is not None and replica.mosquitto.password.get_secret_value() == "a-secret"
    # What only fieldhub up uses is refused by a replica, by name.
    with pytest.raises(ConfigError, match="admin_password: Extra inputs are not permitted"):
        load_replica_settings(admin_password="x" * 20)
    with pytest.raises(ConfigError, match=r"mosquitto\.bogus: Extra inputs are not permitted"):
        load_settings(demo=True, mosquitto={"bogus": 1})


def test_smtp_comes_from_the_environment_and_its_password_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().smtp.config() is None  # no host: no e-mail channels
    secret = tmp_path / "smtp.secret"
    secret.write_text("mail-password\n")
    monkeypatch.setenv("FIELDHUB_SMTP__HOST", "mail.example.org")
    monkeypatch.setenv("FIELDHUB_SMTP__USERNAME", "hub")
    monkeypatch.setenv("FIELDHUB_SMTP__PASSWORD_FILE", str(secret))
    config = load_settings().smtp.config()
    assert config is not None
    assert (config.host, config.port, config.username, config.password, config.starttls) == (
        "mail.example.org",
        587,
        "hub",
        "mail-password",
        True,
    )
    assert "mail-password" not in repr(config)


@pytest.mark.parametrize(
    ("smtp", "problem"),
    [
        ({"host": "m", "ssl": True}, "exclude each other"),
        ({"host": "m", "password": "pw"}, "smtp.password needs smtp.username"),
        ({"host": "m", "username": "u", "password": "pw", "starttls": False}, "smtp.starttls or smtp.ssl"),
    ],
)
def test_smtp_settings_that_do_not_fit_are_refused(smtp: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(smtp=smtp)
