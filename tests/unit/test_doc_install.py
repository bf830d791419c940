"""The install lines of README.md and docs/*.md: Fieldhub comes from a clone or a wheel built from one."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_no_doc_installs_fieldhub_from_a_package_index() -> None:
    # "pip install fieldhub" / "fieldhub[hub]" would look the name up on PyPI, where it is not published;
    # by name only from a folder of wheels (--no-index). A command ends at a line's, a pipe's or a code span's end.
    by_name = re.compile(r"pip install[^\n|;&`]*?(?<![\w./-])['\"]?fieldhub(\[|['\"\s]|$)", re.MULTILINE)
    found = [
        f"{doc.relative_to(ROOT)}: {m.group(0)}"
        for doc in DOCS
        for m in by_name.finditer(doc.read_text())
        if "--no-index" not in m.group(0)
    ]
    assert found == []


def test_the_documented_wheel_is_the_one_pip_builds() -> None:
    # pip wheel names it {name}-{version}-py3-none-any.whl (the packages are pure Python).
    expected = f"{PROJECT['name']}-{PROJECT['version']}-py3-none-any.whl"
    named = set(re.findall(r"fieldhub-[\w.-]+\.whl", (ROOT / "docs" / "agent.md").read_text()))
    assert named == {expected}


def test_the_extras_the_docs_install_exist() -> None:
    extras = set(PROJECT["optional-dependencies"])
    used = {e for doc in DOCS for e in re.findall(r"pip install [^\n]*?\.\[(\w+)\]", doc.read_text())}
    assert used and used <= extras


def test_the_license_is_the_one_pyproject_names() -> None:
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text
