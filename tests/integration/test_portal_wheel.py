"""The wheel carries the built portal: a hub installed from it serves the portal with no Node.js around."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.helpers.portal import INDEX, ROOT, build_lock, ensure_portal_built
from tests.helpers.process import cli_env, running_hub_process

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def test_a_hub_from_the_wheel_serves_the_portal(tmp_path: Path) -> None:
    ensure_portal_built()
    with build_lock():
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
            check=True,
            timeout=150,
            capture_output=True,
        )
        built = {p.relative_to(ROOT).as_posix() for p in INDEX.parent.rglob("*") if p.is_file()}
        index = INDEX.read_text()
    (wheel,) = tmp_path.glob("fieldhub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert {"cloud/portal/dist/index.html", "cloud/portal/serve.py"} <= shipped
    assert built <= shipped, built - shipped
    assert not any(name.startswith("ui/") or "node_modules" in name for name in shipped)

    # The installed package, not the source tree: the wheel's files come first on the path and the checkout is
    # not the working directory, so the portal the hub serves is the wheel's.
    site = tmp_path / "site"
    env = cli_env(PYTHONPATH=str(site))
    where = subprocess.run(
        [sys.executable, "-c", "import cloud.portal.serve as s; print(s.DIST)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert Path(where.stdout.strip()) == site / "cloud" / "portal" / "dist"
    with running_hub_process(tmp_path / "data", env=env, cwd=tmp_path) as hub, httpx.Client(base_url=hub.url) as client:
        page = client.get("/devices")
        assert page.status_code == 200 and page.text == index
        script = next(name for name in shipped if name.endswith(".js"))
        asset = client.get("/" + script.removeprefix("cloud/portal/dist/"))
        assert asset.status_code == 200
        assert asset.content == (tmp_path / "site" / script).read_bytes()
