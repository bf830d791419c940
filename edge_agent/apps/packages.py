"""App packages on the node: fetched from the hub with the node's own credentials, verified, unpacked once.

The hub checked every package when it was pushed (no absolute paths, no ``..``, no links, size limits); the
node trusts a package only once its sha256 equals the digest in the desired set, so what it unpacks is what
the hub checked. It still unpacks defensively (entries resolved inside the target, sizes bounded), because a
digest proves the bytes, not the hub that chose them.

Layout under ``[apps] dir``::

    packages/{digest}.zip        verified packages
    versions/{digest}/           unpacked, shared by every instance of that version (read-only by convention)

Unpacking goes to a temporary directory renamed into place, so a crash never leaves half a version behind.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import ssl
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from edge_agent.apps.runtime import RuntimeFailed

#: The hub refuses pushes over 50 MiB; a download over this is not a package the hub sent.
MAX_PACKAGE_BYTES = 50 * 1024 * 1024
#: Inflated size of a whole package, as the hub's own limit.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
_TIMEOUT_S = 60.0
_CHUNK = 256 * 1024


class PackageStore:
    """Fetches, verifies and unpacks packages; one fetch per digest at a time."""

    def __init__(self, root: Path, api_url: str | None, device_id: str, secret: str, ca_file: Path | None) -> None:
        self._packages = root / "packages"
        self._versions = root / "versions"
        self._api_url = api_url
        token = base64.b64encode(f"{device_id}:{secret}".encode()).decode()
        self._authorization = f"Basic {token}"
        # Loading the CA store costs the agent ~2 MB: only for a hub served over https.
        https = api_url is not None and api_url.startswith("https:")
        self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None) if https else None
        self._locks: dict[str, asyncio.Lock] = {}

    async def unpacked(self, digest: str, package_url: str) -> Path:
        """The unpacked package with ``digest``, fetching it from ``package_url`` (a path on the hub) if needed.

        Raises:
            RuntimeFailed: the hub is unreachable or refuses, the bytes do not match the digest, or the
                package cannot be unpacked; the message says which.
        """
        target = self._versions / digest
        if target.is_dir():
            return target
        async with self._locks.setdefault(digest, asyncio.Lock()):
            if not target.is_dir():
                await asyncio.to_thread(self._fetch_and_unpack, digest, package_url, target)
        return target

    def forget(self, keep: set[str]) -> None:
        """Delete packages and unpacked versions whose digest is not in ``keep`` (no instance needs them)."""
        for folder, suffix in ((self._packages, ".zip"), (self._versions, "")):
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                digest = entry.name.removesuffix(suffix)
                if digest not in keep and not entry.name.startswith("."):
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)

    def _fetch_and_unpack(self, digest: str, package_url: str, target: Path) -> None:
        archive = self._packages / f"{digest}.zip"
        if not archive.is_file():
            self._fetch(digest, package_url, archive)
        self._versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=self._versions))
        try:
            _unpack(archive, staging)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _fetch(self, digest: str, package_url: str, archive: Path) -> None:
        if self._api_url is None:
            raise RuntimeFailed("cannot fetch the package: set [hub] api_url in agent.toml (the hub's HTTP URL)")
        url = f"{self._api_url}{package_url}"
        request = urllib.request.Request(url, headers={"Authorization": self._authorization})  # noqa: S310 - http(s) checked in config
        self._packages.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(f".{archive.name}.part")
        sha = hashlib.sha256()
        size = 0
        try:
            with (
                urllib.request.urlopen(request, timeout=_TIMEOUT_S, context=self._context) as response,  # noqa: S310
                partial.open("wb") as out,
            ):
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > MAX_PACKAGE_BYTES:
                        raise RuntimeFailed(f"the package is larger than {MAX_PACKAGE_BYTES} bytes: not fetched")
                    sha.update(chunk)
                    out.write(chunk)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response and its connection
            partial.unlink(missing_ok=True)
            raise RuntimeFailed(f"the hub refused the package download: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            partial.unlink(missing_ok=True)
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise RuntimeFailed(f"cannot fetch the package from the hub: {reason}") from None
        if sha.hexdigest() != digest:
            partial.unlink(missing_ok=True)
            raise RuntimeFailed(f"the package fetched has sha256 {sha.hexdigest()}, not {digest}: refused")
        partial.rename(archive)


def _unpack(archive: Path, into: Path) -> None:
    """Extract regular files and directories inside ``into``; anything else is refused."""
    root = into.resolve()
    total = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                destination = (root / info.filename).resolve()
                if not destination.is_relative_to(root):
                    raise RuntimeFailed(f"package entry {info.filename!r} escapes the package: refused")
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                total += info.file_size
                if total > MAX_UNPACKED_BYTES:
                    raise RuntimeFailed(f"the package inflates to more than {MAX_UNPACKED_BYTES} bytes: refused")
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                if info.external_attr >> 16 & 0o111:
                    destination.chmod(0o755)
    except zipfile.BadZipFile as exc:
        raise RuntimeFailed(f"the package is not a valid zip: {exc}") from None
