"""What commands print: aligned tables by default, or the hub's answer as JSON or YAML (``-o``).

JSON and YAML show the hub's answer unchanged, so scripts read the same fields the API documents;
tables pick columns. One-time secrets are in the JSON/YAML answer as the hub gave them, and after a
table on lines of their own that say they are shown once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

FORMATS = ("table", "json", "yaml")
NONE = "-"


@dataclass(frozen=True)
class Column:
    """A table column: its header and how a row gives its value."""

    header: str
    value: Callable[[Mapping[str, Any]], Any]


def col(header: str, key: str | None = None) -> Column:
    """A column showing ``row[key]`` (``key`` defaults to the header, lower case, spaces as ``_``)."""
    name = key or header.lower().replace(" ", "_")
    return Column(header, lambda row: row.get(name))


def cell(value: Any) -> str:
    """One value on one line: labels as ``k=v,k=v``, other structures as compact JSON."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        if value and all(isinstance(v, str) for v in value.values()):
            return ",".join(f"{k}={v}" for k, v in value.items())
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else NONE
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = str(value)
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ") if text else NONE


def note_more(answer: Mapping[str, Any], shown: int) -> None:
    """On stderr, when a page (``items``, ``total``, ``offset``) leaves items out: how to get the next one."""
    offset, total = int(answer["offset"]), int(answer["total"])
    if total > offset + shown:
        first = f"{offset + 1}-{offset + shown}" if shown else "none"
        print(f"fieldhub: showing {first} of {total}; --offset {offset + max(shown, 1)} for more", file=sys.stderr)


class Printer:
    """Prints the answers of one command in the chosen format."""

    def __init__(self, output: str, *, headers: bool = True, out: TextIO | None = None) -> None:
        self.output = output
        self.headers = headers
        self.out = out or sys.stdout
        self._printed = False

    @property
    def table(self) -> bool:
        return self.output == "table"

    def show(self, answer: Any, rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> None:
        """``answer`` as JSON/YAML, or ``rows`` as a table of ``columns``."""
        if self.table:
            self.rows(rows, columns)
        else:
            self.document(answer)

    def rows(self, rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> None:
        cells = [[cell(c.value(row)) for c in columns] for row in rows]
        if self.headers:
            cells.insert(0, [c.header for c in columns])
        widths = [max((len(line[i]) for line in cells), default=0) for i in range(len(columns))]
        for line in cells:
            self.line("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())

    def document(self, answer: Any) -> None:
        """The answer in full, as JSON or YAML (a table format prints it as JSON)."""
        if self.output == "yaml":
            import yaml  # noqa: PLC0415 - only -o yaml needs PyYAML

            self.out.write(yaml.safe_dump(answer, sort_keys=False, allow_unicode=True, default_flow_style=False))
            self._printed = True
        else:
            self.line(json.dumps(answer, indent=2, ensure_ascii=False))
        self.out.flush()

    def record(self, answer: Any) -> None:
        """One item of a stream: a JSON line, or a YAML document starting with ``---``."""
        if self.output == "yaml":
            self.line("---")
            self.document(answer)
        else:
            self.line(json.dumps(answer, separators=(",", ":"), ensure_ascii=False))
            self.out.flush()

    def secret(self, label: str, fields: Mapping[str, str], remedy: str) -> None:
        """One-time secrets after a table, labelled as such (JSON and YAML carry them in the answer)."""
        if self.table:
            if self._printed:
                self.line("")
            them = "it" if len(fields) == 1 else "them"
            self.line(f"{label}, shown once: store {them} now ({remedy}):")
            width = max(len(name) for name in fields)
            for name, value in fields.items():
                self.line(f"  {name:<{width}}  {value}")

    def line(self, text: str) -> None:
        self.out.write(text + "\n")
        self._printed = True
