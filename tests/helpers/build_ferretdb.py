"""Build FerretDB from its Go module: ``python tests/helpers/build_ferretdb.py OUT_DIR`` writes ``OUT_DIR/ferretdb``.

``go install github.com/FerretDB/FerretDB/cmd/ferretdb@VERSION`` yields a binary that panics at start: the module
ships an empty ``build/version/version.txt``, which FerretDB reads at init. So the module source is copied out of
the (read-only) module cache, the version written into that file, and the binary built from the copy.

Standard library only: :func:`tests.helpers.ferretdb.ferretdb_bin` runs this file as a child process, staged and
cached by :func:`tests.helpers.servers.fetch_once`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

MODULE = "github.com/FerretDB/FerretDB"
VERSION = "v1.24.2"


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # -mod=mod: resolve the copied module's dependencies from its go.mod/go.sum, not a vendor directory.
    # -buildvcs=false: the copy may sit inside some other repository; its VCS state is not FerretDB's.
    env["GOFLAGS"] = " ".join(filter(None, [env.get("GOFLAGS", ""), "-mod=mod", "-buildvcs=false"]))
    # The module states its own minimum Go; a newer local toolchain builds it, and none is fetched.
    env.setdefault("GOTOOLCHAIN", "local")
    env.setdefault("CGO_ENABLED", "0")  # FerretDB's SQLite driver is pure Go
    return env


def _make_writable(root: Path) -> None:
    """The module cache is read-only; the copy must be writable to patch it and to delete it afterwards."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def build(out_dir: Path, go: str = "go") -> Path:
    """Build ``out_dir/ferretdb`` from ``MODULE@VERSION``; return its path."""
    env = _go_env()
    download = subprocess.run(
        [go, "mod", "download", "-json", f"{MODULE}@{VERSION}"], env=env, capture_output=True, text=True, check=False
    )
    if download.returncode != 0:
        sys.stderr.write(download.stdout + download.stderr)
        raise SystemExit(f"go mod download {MODULE}@{VERSION} failed (exit {download.returncode})")
    module_dir = Path(json.loads(download.stdout)["Dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".ferretdb-src-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(module_dir, source, symlinks=True)
        try:
            _make_writable(source)
            (source / "build" / "version" / "version.txt").write_text(f"{VERSION}\n")
            binary = out_dir / "ferretdb"
            subprocess.run([go, "build", "-o", str(binary), "./cmd/ferretdb"], cwd=source, env=env, check=True)
        finally:
            _make_writable(source)  # go build may add read-only files; the temporary directory must go
    return binary


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} OUT_DIR")
    print(build(Path(sys.argv[1])))
