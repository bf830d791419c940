"""Backends chosen by name: one registry per kind (store, stream, broker, ...), keyed by URL scheme or name.

A new backend is one module plus one registration: the registry builds it from its URL (importing
the adapter only then), refuses unknown names with the list of known ones, and describes every
registered backend for ``--help`` and the docs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from hub.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Registered(Generic[T]):
    """One backend: its name, what it is in a line, an example of how to name it, and how to build it."""

    name: str
    summary: str
    example: str
    build: Callable[[str], T]


class BackendRegistry(Generic[T]):
    """The backends of one kind; ``key(url)`` is the URL's scheme, or the whole value when it has none."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._known: dict[str, Registered[T]] = {}

    def register(self, name: str, summary: str, example: str) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
        """Decorate the function that builds the backend from its URL (or name)."""

        def add(build: Callable[[str], T]) -> Callable[[str], T]:
            if name in self._known:
                raise ValueError(f"{self.kind} backend {name!r} is registered twice")
            self._known[name] = Registered(name, summary, example, build)
            return build

        return add

    @staticmethod
    def key(url: str) -> str:
        return urlsplit(url).scheme if "://" in url else url

    def names(self) -> list[str]:
        return sorted(self._known)

    def check(self, url: str) -> str:
        """``url`` if a registered backend takes it; ConfigError naming the known ones otherwise."""
        if self.key(url) not in self._known:
            known = ", ".join(r.example for r in self._known.values())
            raise ConfigError(f"unknown {self.kind} {redacted(url)!r}: use one of {known}")
        return url

    def build(self, url: str) -> T:
        """The backend named by ``url`` (not yet started)."""
        return self._known[self.key(self.check(url))].build(url)

    def table(self) -> list[tuple[str, str, str]]:
        """(name, example, summary) of every backend, for the docs."""
        return [(r.name, r.example, r.summary) for r in sorted(self._known.values(), key=lambda r: r.name)]


def redacted(url: str) -> str:
    """``url`` without its password (store and stream URLs may hold one), fit to print or log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
