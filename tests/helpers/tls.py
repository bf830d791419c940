"""Throwaway certificates made by the openssl command line: a self-signed one for 127.0.0.1, or a private CA
and server certificates it signs (for servers such as slapd that are given a CA, a certificate and a key)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Small, quick keys: these certificates live for one test session.
_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """``(cert, key)`` PEM files; the certificate is its own CA (clients pass it as ``ca_file``)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@dataclass(frozen=True, slots=True)
class Authority:
    """A private CA: ``cert`` is what clients pass as ``ca_file``; ``key`` signs server certificates."""

    cert: Path
    key: Path


def certificate_authority(directory: Path, name: str = "Fieldhub test CA") -> Authority:
    """A new CA in ``directory`` (``ca.pem``, ``ca.key``), valid for a day."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "ca.pem", directory / "ca.key"
    _openssl(
        "req", "-x509", *_EC_KEY, "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return Authority(cert, key)


def server_certificate(ca: Authority, directory: Path, *, ips: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Path, Path]:
    """``(cert, key)`` of a server at ``ips`` and ``localhost``, signed by ``ca``, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.pem", directory / "server.key"
    names = ",".join([*(f"IP:{ip}" for ip in ips), "DNS:localhost"])
    _openssl(
        "req", "-x509", "-CA", str(ca.cert), "-CAkey", str(ca.key), *_EC_KEY, "-keyout", str(key), "-out", str(cert),
        "-days", "1", "-subj", f"/CN={ips[0]}", "-addext", f"subjectAltName={names}",
        "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    return cert, key


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
