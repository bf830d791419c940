"""Every relative link in README.md and docs/*.md leads to a file of this repository (and to a heading in it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target), with an optional "title"; code spans and fenced blocks are left out first.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def links(doc: Path) -> list[str]:
    text = _CODE.sub("", _FENCE.sub("", doc.read_text()))
    return _LINK.findall(text)


def anchors(doc: Path) -> set[str]:
    """The fragment ids GitHub gives the headings of ``doc``."""
    found: set[str] = set()
    for line in _FENCE.sub("", doc.read_text()).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_the_docs_have_links_to_check() -> None:
    assert sum(len(links(doc)) for doc in DOCS) > 10


def broken_links(doc: Path, root: Path = ROOT) -> list[str]:
    """The relative links of ``doc`` that lead outside ``root``, to no file, or to no heading of a page."""
    broken = []
    for target in links(doc):
        if _EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.is_relative_to(root):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no such heading")
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    assert broken_links(doc) == []


def test_broken_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "ARCHITECTURE.md").write_text("# Map\n")
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "other.md").write_text("# Other page\n\n## A section, here\n")
    doc = repo / "README.md"
    doc.write_text(
        "[map](../shared/ARCHITECTURE.md) [gone](docs/gone.md) [ok](docs/other.md#a-section-here)\n"
        "[bad anchor](docs/other.md#nowhere) [web](https://example.org/x) `[code](nowhere.md)`\n"
        "## Top\n[self](#top) [self, wrong](#bottom)\n"
    )
    assert broken_links(doc, repo) == [
        "../shared/ARCHITECTURE.md: outside the repository",
        "docs/gone.md: no such file",
        "docs/other.md#nowhere: no such heading",
        "#bottom: no such heading",
    ]
