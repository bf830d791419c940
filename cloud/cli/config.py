"""Where ``fieldhub login`` keeps its tokens: one per hub, in the user's config directory.

``$XDG_CONFIG_HOME/fieldhub/hubs.json`` (``~/.config/fieldhub/hubs.json`` without it), readable by its
owner only: the directory is made 0700 and the file written 0600, never wider, even for a moment.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from cloud.cli.errors import fail

FILE_NAME = "hubs.json"
DEFAULT_HUB = "http://127.0.0.1:8080"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/fieldhub``, or ``~/.config/fieldhub``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fieldhub"


def normalize_hub(url: str) -> str:
    """The hub's URL as logins are keyed: scheme, host and port, no trailing slash.

    Raises:
        click.BadParameter: when it is no http(s) URL (a usage error, exit code 2).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} must look like http(s)://host[:port]", param_hint="'--hub'")
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class Login:
    """A token from ``fieldhub login`` and who it belongs to."""

    username: str
    token: str
    expires: str | None = None  # RFC 3339, when the hub said it expires


class Logins:
    """The logins file: ``{"current": URL, "hubs": {URL: {"username", "token", "expires"}}}``."""

    def __init__(self, path: Path, current: str | None, hubs: dict[str, Login]) -> None:
        self.path = path
        self.current = current
        self.hubs = hubs

    @classmethod
    def load(cls, directory: Path | None = None) -> Logins:
        path = (directory or config_dir()) / FILE_NAME
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            hubs = {url: Login(**entry) for url, entry in raw.get("hubs", {}).items()}
        except FileNotFoundError:
            return cls(path, None, {})
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            fail(f"cannot read {path} ({exc}); delete it and log in again")
        return cls(path, raw.get("current"), hubs)

    def get(self, hub: str) -> Login | None:
        return self.hubs.get(hub)

    def put(self, hub: str, login: Login) -> None:
        """Keep ``login`` for ``hub``, which becomes the current hub."""
        self.hubs[hub] = login
        self.current = hub

    def forget(self, hub: str) -> None:
        self.hubs.pop(hub, None)
        if self.current == hub:
            self.current = next(iter(self.hubs), None)

    def save(self) -> None:
        """Write the file 0600 into a 0700 directory, replacing the old one in one step."""
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
        body = {"current": self.current, "hubs": {url: asdict(login) for url, login in self.hubs.items()}}
        partial = directory / f".{FILE_NAME}.{os.getpid()}"
        try:
            partial.unlink(missing_ok=True)  # a leftover keeps its mode through os.open
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(body, fh, indent=2)
                fh.write("\n")
            partial.replace(self.path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            fail(f"cannot write {self.path}: {exc.strerror}")
