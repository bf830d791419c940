"""The portal's API types (ui/src/lib/api-schema.d.ts, checked in) match the hub's current OpenAPI document."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "ui" / "src" / "lib" / "api-schema.d.ts"


def test_api_types_are_generated_from_the_current_api(tmp_path: Path) -> None:
    assert (ROOT / "ui" / "node_modules" / ".bin" / "openapi-typescript").exists(), (
        "ui/node_modules is missing openapi-typescript: run `make portal` (or `make test`, which builds it first)"
    )
    generated = tmp_path / "api-schema.d.ts"
    # The same recipe as `make api-types`, into a temporary file.
    run = subprocess.run(
        ["make", "-s", "api-types", f"API_TYPES={generated}", f"OPENAPI_JSON={tmp_path / 'openapi.json'}"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"make api-types failed:\n{run.stdout}\n{run.stderr}"
    assert generated.read_text() == CHECKED_IN.read_text(), (
        "ui/src/lib/api-schema.d.ts is out of date with the API: run `make api-types` and check the result in"
    )
