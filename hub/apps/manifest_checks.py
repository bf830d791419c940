"""The manifest-level checks of an app package: the manifest itself, and the files and requirements it names.

The rules are listed in :mod:`hub.apps.package` (manifest, command, requirements, Dockerfile).
"""

from __future__ import annotations

import re
import tomllib
import zipfile
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import ValidationError

from contracts.apps import MANIFEST, AppManifest
from hub.apps.archive import inflate
from hub.apps.limits import PackageLimits
from hub.apps.problems import Problems

_HASH_OPTION = re.compile(r"\s+--hash[= ]\S+")


def check_manifest(text: bytes | None, root: str, problems: Problems) -> AppManifest | None:
    if text is None:
        return None
    try:
        document = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        problems.add(root + MANIFEST, "not UTF-8")
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.add(root + MANIFEST, f"not valid TOML: {exc}")
        return None
    try:
        return AppManifest.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in error["loc"]) or MANIFEST
            problems.add(where, str(error["msg"]).removeprefix("Value error, "))
        return None


def _command_files(command: list[str]) -> list[str]:
    named = []
    for i, arg in enumerate(command):
        if arg.startswith(("-", "/", "$")) or any(c.isspace() for c in arg) or "://" in arg:
            continue
        if arg.endswith(".py") or (i == 0 and "/" in arg):
            named.append(arg.removeprefix("./"))
    return named


@dataclass(frozen=True, slots=True)
class Contents:
    data: bytes
    archive: zipfile.ZipFile
    root: str
    files: dict[str, int]
    limits: PackageLimits


def check_referenced_files(contents: Contents, manifest: AppManifest, problems: Problems) -> None:
    multi = bool(manifest.services)
    files = contents.files
    for index, service in enumerate(manifest.all_services()):
        key = f"services.{index}.runtime" if multi else "runtime"
        runtime = service.runtime
        if runtime.kind == "python":
            for path in _command_files(runtime.command or []):
                if path not in files:
                    problems.add(f"{key}.command", f"names {path!r}, which is not in the package")
        if runtime.dockerfile is not None and runtime.dockerfile not in files:
            problems.add(f"{key}.dockerfile", f"{runtime.dockerfile!r} is not in the package")
        if runtime.requirements is None:
            continue
        if runtime.requirements not in files:
            problems.add(f"{key}.requirements", f"{runtime.requirements!r} is not in the package")
            continue
        info = contents.archive.getinfo(contents.root + runtime.requirements)
        read = inflate(contents.data, info, keep_limit=contents.limits.max_text_size)
        if read.problem is not None:
            problems.add(f"{key}.requirements", read.problem)
        elif read.content is not None:
            _check_requirements(contents.root + runtime.requirements, read.content, problems)


def _check_requirements(path: str, text: bytes, problems: Problems) -> None:
    try:
        lines = text.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        problems.add(path, "not UTF-8")
        return
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text_line in enumerate(lines, start=1):
        start, before = pending if pending is not None else (number, "")
        line = before + text_line
        if line.endswith("\\"):
            pending = (start, line[:-1] + " ")
            continue
        pending = None
        joined.append((start, line))
    if pending is not None:
        joined.append(pending)
    for number, line in joined:
        _check_requirement_line(f"{path}:{number}", line, problems)


def _check_requirement_line(where: str, line: str, problems: Problems) -> None:
    # pip's comment rule: '#' at the start or after whitespace.
    line = re.sub(r"(^|\s)#.*$", "", line).strip()
    if not line:
        return
    if line.startswith("-"):
        option = line.split()[0].split("=")[0]
        if option.startswith(("--requirement", "--constraint")) or re.match(r"^-[rc]", option):
            option = option[:2] if not option.startswith("--") else option
            problems.add(where, f"{option} includes are not allowed: list every requirement in this one file")
        else:
            problems.add(where, f"the option {option} is not allowed: the node installs from its own package index")
        return
    try:
        Requirement(_HASH_OPTION.sub("", line))
    except InvalidRequirement as exc:
        problems.add(where, f"not a valid requirement: {_first_line(exc)}")


def _first_line(exc: Any) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
