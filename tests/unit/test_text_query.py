"""FTS5's query language in Python (hub/store/text_query.py) answers as SQLite's FTS5 does, on the same messages."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import InvalidInput
from hub.store.text_query import parse, words

pytestmark = pytest.mark.timeout(120)

MESSAGES = [
    "reading 21.5 from sensor air",
    "WARNING sensor air is slow",
    "Traceback: connection refused",
    "uplink connected to hub",
    "connection refused by broker",
    "Café Über straße naïve",
    "a b c a b",
    "c b a",
    "x_y z-w 192.168.1.10 /var/log",
    "",
]
VOCABULARY = ["a", "b", "c", "air", "sensor", "conn", "refused", "hub", "cafe", "uber", "21", "5", "x", "zz"]
SYNTAX = ["AND", "OR", "NOT", "(", ")", "*", "+", "^", ":", "-", "{", "}", ",", "NEAR(", "NEAR", "message:", '"', '""']


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(message)")
    conn.executemany("INSERT INTO t(rowid, message) VALUES (?, ?)", list(enumerate(MESSAGES)))
    yield conn
    conn.close()


def sqlite_answer(conn: sqlite3.Connection, expression: str) -> list[int] | None:
    try:
        return [row[0] for row in conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid", (expression,))]
    except sqlite3.OperationalError:
        return None


def our_answer(expression: str) -> list[int] | None:
    try:
        query = parse(expression)
    except InvalidInput:
        return None
    return [i for i, message in enumerate(MESSAGES) if query.matches(words(message))]


@pytest.mark.parametrize(
    "expression",
    [
        "refused",
        "REFUSED",
        "sensor air",
        '"from sensor"',
        "conn*",
        "connected NOT hub",
        "slow OR traceback",
        "(sensor OR hub) NOT slow",
        '"21.5"',
        "a NOT b c",
        "a OR b c",
        "a AND b NOT c",
        "^c b",
        "NEAR(a c, 0)",
        "NEAR(a c, 1)",
        'NEAR("b a" c)',
        "a + b",
        '"a b"*',
        "cafe uber strasse naive",
        "message:air",
        "-message:air",
        "{message}:(air OR hub)",
        'x "z w"',
        '""',
        '"" a',
        '"" AND a',
        '"" OR a',
        'a NOT ""',
        'NEAR("" "") a',
        'NEAR("" a, 0) b',
        '-message:"" a',
        'a ^ ""',
        "b -message:a",
        "NEAR",
    ],
)
def test_answers_as_fts5(fts: sqlite3.Connection, expression: str) -> None:
    expected = sqlite_answer(fts, expression)
    assert expected is not None, "the example must be a valid FTS5 query"
    assert our_answer(expression) == expected


@pytest.mark.parametrize(
    "expression", ['"unbalanced', "AND", "sensor AND", "(a OR", "OR OR", "sensor:air", "(a) b", "a.b", "^(a)", "a**"]
)
def test_refuses_what_fts5_refuses_naming_the_problem(fts: sqlite3.Connection, expression: str) -> None:
    assert sqlite_answer(fts, expression) is None
    with pytest.raises(InvalidInput) as raised:
        parse(expression)
    assert raised.value.message.startswith("q: ")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(VOCABULARY + SYNTAX), min_size=1, max_size=7))
def test_any_expression_gets_fts5s_answer(fts: sqlite3.Connection, parts: list[str]) -> None:
    expression = " ".join(parts)
    assert our_answer(expression) == sqlite_answer(fts, expression), expression
