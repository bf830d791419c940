"""FTS5's query language and tokenizer in Python, for log stores without FTS5 (:mod:`hub.store.logs`).

SQLite's FTS5 (``unicode61`` tokenizer, one column ``message``) is the reference: :func:`words` splits text as it
does (runs of letters, digits and private-use characters, case folded, diacritics removed), :func:`parse` takes
the same expressions and refuses the same ones, and :meth:`Query.matches` answers as its ``MATCH`` would. Words,
``"phrases"``, ``prefix*``, ``a + b``, ``^first``, ``NEAR(a b, N)``, ``AND``/``OR``/``NOT`` (``NOT`` binds
tightest, then ``AND``, then ``OR``; words side by side are an ``AND`` tighter than all three) and the column
filters ``message:`` / ``-message:`` / ``{message}:``. Case folding and diacritics follow Python's Unicode tables,
SQLite's its own; they differ only for rare scripts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from hub.errors import InvalidInput

COLUMN = "message"
_NEAR_DEFAULT = 10
_KEYWORDS = {"AND", "OR", "NOT"}
#: The one-character lexemes of FTS5's query syntax, by the names its grammar gives them.
_PUNCTUATION = {
    "(": "LP", ")": "RP", "{": "LCP", "}": "RCP", ":": "COLON", ",": "COMMA", "+": "PLUS", "*": "STAR", "-": "MINUS",
    "^": "CARET",
}  # fmt: skip


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN" or unicodedata.category(char) == "Co"


def _fold(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", char.lower()) if unicodedata.category(c) != "Mn")


def words(text: str) -> list[str]:
    """``text`` split into FTS5 ``unicode61`` tokens, in order."""
    found: list[str] = []
    current: list[str] = []
    for char in text:
        if _is_word_char(char):
            current.append(_fold(char))
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


@dataclass(frozen=True, slots=True)
class Term:
    """One token of a phrase; with ``prefix``, any token starting with ``text``."""

    text: str
    prefix: bool = False

    def accepts(self, token: str) -> bool:
        return token.startswith(self.text) if self.prefix else token == self.text


@dataclass(frozen=True, slots=True)
class Phrase:
    """Terms in a row; ``initial``: only at the start of the message. No terms matches nothing."""

    terms: tuple[Term, ...]
    initial: bool = False

    def starts(self, tokens: list[str]) -> Iterator[int]:
        if not self.terms:
            return
        last = len(tokens) - len(self.terms)  # the last start where every term fits
        for start in range((min(last, 0) if self.initial else last) + 1):
            if all(term.accepts(tokens[start + i]) for i, term in enumerate(self.terms)):
                yield start

    def matches(self, tokens: list[str]) -> bool:
        return next(self.starts(tokens), None) is not None


@dataclass(frozen=True, slots=True)
class Near:
    """Every phrase, with at most ``distance`` tokens between the end of each and the start of the last one."""

    phrases: tuple[Phrase, ...]
    distance: int

    def matches(self, tokens: list[str]) -> bool:
        starts = [list(p.starts(tokens)) for p in self.phrases]
        if not all(starts):
            return False
        # FTS5's rule: for the latest start M of a choice, each phrase starts in [M - its length - distance, M].
        return any(
            all(
                any(last - len(p.terms) - self.distance <= s <= last for s in found)
                for p, found in zip(self.phrases, starts, strict=True)
            )
            for found in starts
            for last in found
        )


@dataclass(frozen=True, slots=True)
class Nothing:
    """A part filtered to no column (``-message:``): it matches nothing."""

    def matches(self, tokens: list[str]) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class And:
    left: Query
    right: Query

    def matches(self, tokens: list[str]) -> bool:
        return self.left.matches(tokens) and self.right.matches(tokens)


@dataclass(frozen=True, slots=True)
class Or:
    left: Query
    right: Query

    def matches(self, tokens: list[str]) -> bool:
        return self.left.matches(tokens) or self.right.matches(tokens)


@dataclass(frozen=True, slots=True)
class Not:
    """``left`` without ``right``."""

    left: Query
    right: Query

    def matches(self, tokens: list[str]) -> bool:
        return self.left.matches(tokens) and not self.right.matches(tokens)


Query = Phrase | Near | Nothing | And | Or | Not
#: What a string without terms (``""``, ``"."``) parses to: it matches nothing.
_EMPTY = Phrase(())


def parse(expression: str) -> Query:
    """``expression`` (as :func:`hub.store.logs.search_expression` gives it) as a :data:`Query`.

    Raises:
        InvalidInput: as FTS5 refuses it, the message ``q: `` and FTS5's reason.
    """
    return _Parser(_lex(expression)).query()


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # STRING (a bareword or a quoted string), AND, OR, NOT, EOF or a _PUNCTUATION kind
    text: str
    quoted: bool = False


def _bare(char: str) -> bool:
    return ord(char) >= 0x80 or (char.isascii() and (char.isalnum() or char in "_\x1a"))


def _lex(expression: str) -> list[_Lexeme]:
    found: list[_Lexeme] = []
    i = 0
    while i < len(expression):
        char = expression[i]
        if char.isspace():
            i += 1
        elif char in _PUNCTUATION:
            found.append(_Lexeme(_PUNCTUATION[char], char))
            i += 1
        elif char == '"':
            text, i = _quoted(expression, i + 1)
            found.append(_Lexeme("STRING", text, quoted=True))
        elif _bare(char):
            end = i
            while end < len(expression) and _bare(expression[end]):
                end += 1
            text = expression[i:end]
            found.append(_Lexeme(text if text in _KEYWORDS else "STRING", text))
            i = end
        else:
            raise _syntax(char)
    found.append(_Lexeme("EOF", ""))
    return found


def _quoted(expression: str, i: int) -> tuple[str, int]:
    """The string opened before ``i`` (``""`` inside is one ``"``) and the index after its closing quote."""
    text: list[str] = []
    while i < len(expression):
        if expression[i] == '"':
            if expression[i + 1 : i + 2] != '"':
                return "".join(text), i + 1
            i += 1
        text.append(expression[i])
        i += 1
    raise InvalidInput("q: unterminated string")


def _syntax(near: str) -> InvalidInput:
    return InvalidInput(f'q: syntax error near "{near}"')


class _Parser:
    """Recursive descent over FTS5's grammar (SQLite's fts5parse.y), one function per precedence level."""

    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self._lexemes = lexemes
        self._at = 0

    def query(self) -> Query:
        parsed = self._or()
        self._expect("EOF")
        return parsed

    def _peek(self, ahead: int = 0) -> _Lexeme:
        return self._lexemes[min(self._at + ahead, len(self._lexemes) - 1)]

    def _take(self) -> _Lexeme:
        lexeme = self._peek()
        self._at += 1
        return lexeme

    def _expect(self, kind: str) -> _Lexeme:
        if self._peek().kind != kind:
            raise _syntax(self._peek().text)
        return self._take()

    def _or(self) -> Query:
        parsed = self._and()
        while self._peek().kind == "OR":
            self._take()
            parsed = Or(parsed, self._and())
        return parsed

    def _and(self) -> Query:
        parsed = self._not()
        while self._peek().kind == "AND":
            self._take()
            parsed = And(parsed, self._not())
        return parsed

    def _not(self) -> Query:
        parsed = self._unit()
        while self._peek().kind == "NOT":
            self._take()
            parsed = Not(parsed, self._unit())
        return parsed

    def _unit(self) -> Query:
        """``( query )``, ``colset : ( query )``, or near-sets side by side (an implicit AND)."""
        if self._peek().kind == "LP":
            self._take()
            parsed = self._or()
            self._expect("RP")
            return parsed
        if self._starts_colset():
            start = self._at
            in_column = self._colset()
            if self._peek().kind == "LP":
                self._take()
                parsed = self._or()
                self._expect("RP")
                return parsed if in_column else Nothing()
            self._at = start  # a column filter of one near-set: read it again as part of the list
        parts = [self._near_set()]
        while self._peek().kind in ("STRING", "CARET", "MINUS", "LCP"):
            parts.append(self._near_set())
        # Side by side, a part without terms (``""``) is left out, as FTS5 does; alone it matches nothing.
        with_terms = [part for part in parts if part != _EMPTY] or [_EMPTY]
        parsed = with_terms[0]
        for part in with_terms[1:]:
            parsed = And(parsed, part)
        return parsed

    def _starts_colset(self) -> bool:
        kind = self._peek().kind
        return kind in ("MINUS", "LCP") or (kind == "STRING" and self._peek(1).kind == "COLON")

    def _colset(self) -> bool:
        """Read ``[-] name :`` or ``[-] {names} :``; whether the column ``message`` is kept."""
        negated = self._peek().kind == "MINUS"
        if negated:
            self._take()
        if self._peek().kind == "LCP":
            self._take()
            names = [self._expect("STRING").text]
            while self._peek().kind == "STRING":
                names.append(self._take().text)
            self._expect("RCP")
        else:
            names = [self._expect("STRING").text]
        for name in names:
            if name.lower() != COLUMN:
                raise InvalidInput(f"q: no such column: {name}")
        self._expect("COLON")
        return not negated

    def _near_set(self) -> Query:
        kept = self._colset() if self._starts_colset() else True
        lexeme = self._peek()
        if lexeme.kind == "STRING" and not lexeme.quoted and lexeme.text == "NEAR" and self._peek(1).kind == "LP":
            self._take()
            self._take()
            parsed: Query = self._near()
        else:
            initial = lexeme.kind == "CARET"
            if initial:
                self._take()
            parsed = self._phrase(initial)
        if isinstance(parsed, Phrase) and not parsed.terms:
            return _EMPTY  # no terms, whatever its columns or ``^``
        return parsed if kept else Nothing()

    def _near(self) -> Near | Phrase:
        phrases = [self._phrase(initial=False)]
        while self._peek().kind == "STRING":
            phrases.append(self._phrase(initial=False))
        distance = _NEAR_DEFAULT
        if self._peek().kind == "COMMA":
            self._take()
            number = self._expect("STRING")
            if not number.text.isdigit():
                raise _syntax(number.text)
            distance = int(number.text)
        self._expect("RP")
        phrases = [phrase for phrase in phrases if phrase.terms]  # FTS5 leaves out those without terms
        return Near(tuple(phrases), distance) if phrases else _EMPTY

    def _phrase(self, initial: bool) -> Phrase:
        terms = self._terms()
        while self._peek().kind == "PLUS":
            self._take()
            terms += self._terms()
        return Phrase(tuple(terms), initial)

    def _terms(self) -> list[Term]:
        tokens = words(self._expect("STRING").text)
        prefix = self._peek().kind == "STAR"
        if prefix:
            self._take()
        return [Term(token, prefix and i == len(tokens) - 1) for i, token in enumerate(tokens)]
