"""The template app ``fieldhub app init`` writes, and the zip ``fieldhub app push`` makes of a directory.

The template passes :func:`hub.apps.package.inspect_package` and runs with the standard library alone: it serves
HTTP on ``$PORT`` with ``/healthz`` for the node's health check.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from contracts.apps import MANIFEST

#: Directories never packed: caches, version control, virtual environments.
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".venv", "venv", ".mypy_cache", ".pytest_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")

_MANIFEST = """\
[app]
name = "{name}"
version = "0.1.0"
description = "A Fieldhub app"

[runtime]
kind = "python"
command = ["python", "main.py"]

[http]
health = "/healthz"
public = false
"""

_MAIN = '''\
"""{name}: serves HTTP on the port the node gives in $PORT."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200, {{"status": "ok"}})
        elif self.path == "/":
            self._answer(200, {{"app": "{name}", "message": "hello from Fieldhub"}})
        else:
            self._answer(404, {{"error": "not found"}})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    # The node says where to listen: its loopback (the hub's link reaches the app through the node).
    address = (os.environ.get("FIELDHUB_HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000")))
    server = ThreadingHTTPServer(address, Handler)
    # The node stops an app with SIGTERM: leave serve_forever and exit cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{name} listening on port {{server.server_address[1]}}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
'''

_README = """\
# {name}

A Fieldhub app. `main.py` serves HTTP on the port in `$PORT`; the node checks `/healthz`.

Push it to your hub:

    fieldhub app push .

Every push needs a new `version` in `fieldhub-app.toml`: a pushed version is immutable.
See docs/apps.md of Fieldhub for the manifest's keys.
"""


def template_files(name: str) -> dict[str, str]:
    """The files of a template app called ``name`` (an app name: 1-63 of ``[a-z0-9-]``), by relative path."""
    return {
        MANIFEST: _MANIFEST.format(name=name),
        "main.py": _MAIN.format(name=name),
        "README.md": _README.format(name=name),
    }


def template_zip(name: str) -> bytes:
    """The template app called ``name`` as a package ready to push (its files at the zip's root)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in template_files(name).items():
            archive.writestr(path, text)
    return buffer.getvalue()


def write_template(name: str, directory: Path) -> list[Path]:
    """Write the template app into ``directory`` (created if missing); refuse to overwrite a file.

    Raises:
        FileExistsError: a file of the template exists in ``directory``.
    """
    files = template_files(name)
    existing = [directory / path for path in files if (directory / path).exists()]
    if existing:
        raise FileExistsError(f"{existing[0]} exists; choose an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in files.items():
        target = directory / path
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def zip_directory(directory: Path) -> bytes:
    """The zip of ``directory``'s regular files, its root the zip's root, in a stable order.

    Caches, version control and virtual environments (:data:`SKIPPED_DIRS`, ``*.pyc``) are left out, and so
    are symbolic links (a package may not hold any).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not Path(root, d).is_symlink())
            for file in sorted(files):
                path = Path(root, file)
                if file.endswith(SKIPPED_SUFFIXES) or path.is_symlink() or not path.is_file():
                    continue
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()
