"""The zip-level checks of an app package: the archive, its entries' names, kinds and sizes, and their data.

The rules are listed in :mod:`hub.apps.package` (sizes, names, kinds, root); nothing here reads the disk, and
entries are inflated as a stream, capped at the size each declares.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO

from contracts.apps import MANIFEST
from hub.apps.limits import PackageLimits
from hub.apps.problems import Problems

_CHUNK = 64 * 1024
_CD_BYTES_PER_ENTRY = 512
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_LOCAL = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30
_DRIVE = re.compile(r"^[A-Za-z]:")


def _end_record(data: bytes) -> tuple[int, int] | None:
    """(entries, central directory size) declared at the end of ``data``, found as zipfile finds them."""
    pos = len(data) - 22
    if not (pos >= 0 and data[pos : pos + 4] == _EOCD and data[-2:] == b"\0\0"):
        pos = data.rfind(_EOCD, max(0, len(data) - 22 - 65535))
        if pos < 0 or pos + 22 > len(data):
            return None
    entries = int.from_bytes(data[pos + 10 : pos + 12], "little")
    cd_size = int.from_bytes(data[pos + 12 : pos + 16], "little")
    record64 = pos - 20 - 56
    if record64 >= 0 and data[pos - 20 : pos - 16] == _EOCD64_LOCATOR and data[record64 : record64 + 4] == _EOCD64:
        entries = int.from_bytes(data[record64 + 32 : record64 + 40], "little")
        cd_size = int.from_bytes(data[record64 + 40 : record64 + 48], "little")
    return entries, cd_size


def open_archive(data: bytes, limits: PackageLimits, problems: Problems) -> zipfile.ZipFile | None:
    end = _end_record(data)
    if end is None:
        problems.add("", "not a zip archive")
        return None
    entries, cd_size = end
    if entries > limits.max_entries:
        problems.add("", f"declares {entries} entries, over the limit of {limits.max_entries}")
        return None
    if cd_size > limits.max_entries * _CD_BYTES_PER_ENTRY:
        problems.add("", f"a central directory of {cd_size} bytes, more than {limits.max_entries} entries take")
        return None
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, IndexError, NotImplementedError) as exc:
        problems.add("", f"not a readable zip archive ({exc})")
        return None
    if len(archive.infolist()) > limits.max_entries:
        problems.add("", f"{len(archive.infolist())} entries, over the limit of {limits.max_entries}")
        return None
    return archive


def _name_problem(name: str, limits: PackageLimits) -> str | None:
    parts = name.removesuffix("/").split("/")
    rules = (
        (not name, "an empty name"),
        ("\x00" in name, "a NUL character in the name"),
        ("\\" in name, "a backslash in the name (use forward slashes)"),
        (_DRIVE.match(name) is not None, "a drive letter (paths must be relative)"),
        (name.startswith("/"), "an absolute path (paths must be relative)"),
        (".." in parts, "a '..' segment (it would escape the package)"),
        (
            posixpath.normpath(name) != name.removesuffix("/") or "." in parts,
            "not in normal form (an empty or '.' segment)",
        ),
        (
            len(name) > limits.max_name_length,
            f"a name of {len(name)} characters, over the limit of {limits.max_name_length}",
        ),
    )
    return next((problem for broken, problem in rules if broken), None)


def _kind_problem(info: zipfile.ZipInfo, is_dir: bool) -> str | None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    rules = (
        (stat.S_ISLNK(mode), "a symbolic link (only regular files and directories are allowed)"),
        (
            kind not in (0, stat.S_IFREG, stat.S_IFDIR),
            "a device, FIFO or socket (only regular files and directories are allowed)",
        ),
        (
            kind == (stat.S_IFREG if is_dir else stat.S_IFDIR),
            "a directory whose name does not end in '/', or a file whose name does",
        ),
        (is_dir and info.file_size > 0, "a directory entry holding data"),
        (bool(info.flag_bits & 0x1), "encrypted (not supported)"),
        (
            info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED),
            f"compression method {info.compress_type} (only stored and deflated are supported)",
        ),
    )
    return next((problem for broken, problem in rules if broken), None)


def _size_problem(info: zipfile.ZipInfo, limits: PackageLimits) -> str | None:
    if info.file_size > limits.max_entry_size:
        return f"declares {info.file_size} bytes, over the limit of {limits.max_entry_size} per entry"
    if info.file_size > limits.ratio_exempt_size and info.file_size > limits.max_ratio * info.compress_size:
        ratio = info.file_size // max(info.compress_size, 1)
        return f"a compression ratio of {ratio}, over the limit of {limits.max_ratio}"
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        return f"stored, but declares {info.file_size} bytes and stores {info.compress_size}"
    return None


def check_entries(
    data: bytes, archive: zipfile.ZipFile, limits: PackageLimits, problems: Problems
) -> tuple[dict[str, int], bytes | None, str]:
    """Check every entry; return the files (relative to the root), the manifest's bytes and the root."""
    infos = archive.infolist()
    files = _check_headers(infos, limits, problems)
    declared = sum(files.values())
    readable = [i for i in infos if i.orig_filename in files]
    if declared > limits.max_uncompressed_size:
        problems.add("", f"declares {declared} bytes uncompressed, over the limit of {limits.max_uncompressed_size}")
        readable = []
    root = _root(list(files), [i.orig_filename for i in infos])
    manifest_text: bytes | None = None
    spans: list[tuple[int, int, str]] = []
    for info in readable:
        keep = info.orig_filename == root + MANIFEST
        read = inflate(data, info, keep_limit=limits.max_text_size if keep else None)
        if read.span is not None:
            spans.append((*read.span, info.orig_filename))
        if read.problem is not None:
            problems.add(info.orig_filename, read.problem)
        elif keep:
            manifest_text = read.content
    spans.sort()
    for (_, end, name), (start, _, later) in itertools.pairwise(spans):
        if start < end:
            problems.add(later, f"overlaps the data of {name!r} (an overlapping-entries zip bomb)")
    if root + MANIFEST not in files:
        problems.add(MANIFEST, "missing: the manifest must be at the root of the package or of its one top directory")
    return {path.removeprefix(root): size for path, size in files.items()}, manifest_text, root


def _check_headers(infos: list[zipfile.ZipInfo], limits: PackageLimits, problems: Problems) -> dict[str, int]:
    """Judge names, kinds and declared sizes; return the regular files that passed, with their declared sizes."""
    seen: dict[str, str] = {}
    files: dict[str, int] = {}
    dirs: set[str] = set()
    for info in infos:
        name = info.orig_filename
        is_dir = name.endswith("/")
        problem = _name_problem(name, limits) or _kind_problem(info, is_dir) or _size_problem(info, limits)
        key = unicodedata.normalize("NFC", name.removesuffix("/")).casefold()
        if problem is None and key in seen:
            other = seen[key]
            problem = "a duplicate entry" if other == name else f"the same name as {other!r} but for case"
        seen.setdefault(key, name)
        if problem is not None:
            problems.add(name, problem)
            continue
        parts = key.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if not is_dir:
            files[name] = info.file_size
    for name in list(files):
        if unicodedata.normalize("NFC", name).casefold() in dirs:
            problems.add(name, "a file that is also the directory of other entries")
            del files[name]
    return files


def _root(files: list[str], names: list[str]) -> str:
    if MANIFEST in files or not names:
        return ""
    top = names[0].split("/", 1)[0] + "/"
    if all(n.startswith(top) for n in names) and top + MANIFEST in files:
        return top
    return ""


@dataclass(frozen=True, slots=True)
class Read:
    content: bytes | None = None
    span: tuple[int, int] | None = None
    problem: str | None = None


def _locate(data: bytes, info: zipfile.ZipInfo) -> tuple[int, int] | str:
    """The span of an entry's data in ``data``, or why its local header does not fit the central directory."""
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER_SIZE]
    if len(header) < _LOCAL_HEADER_SIZE or header[:4] != _LOCAL:
        return "no local header where the central directory points"
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    local_name = data[start + _LOCAL_HEADER_SIZE : start + _LOCAL_HEADER_SIZE + name_length]
    if local_name != info.orig_filename.encode(encoding, errors="replace"):
        return "its local header names another file"
    begin = start + _LOCAL_HEADER_SIZE + name_length + extra_length
    if begin + info.compress_size > len(data):
        return "its data runs past the end of the archive"
    return begin, begin + info.compress_size


def inflate(data: bytes, info: zipfile.ZipInfo, *, keep_limit: int | None) -> Read:
    """Inflate one entry, at most ``file_size + 1`` bytes of it, keeping its content only given ``keep_limit``.

    The span returned runs from the local header to the end of the entry's data (for the overlap check).
    """
    located = _locate(data, info)
    if isinstance(located, str):
        return Read(problem=located)
    span = (info.header_offset, located[1])
    if keep_limit is not None and info.file_size > keep_limit:
        return Read(span=span, problem=f"{info.file_size} bytes, over the limit of {keep_limit} for this file")
    raw = memoryview(data)[located[0] : located[1]]
    kept = bytearray()
    if info.compress_type == zipfile.ZIP_STORED:
        produced, crc, problem = len(raw), zlib.crc32(raw), None
        kept += raw if keep_limit is not None else b""
    else:
        produced, crc, problem = _stream(raw, info.file_size, kept if keep_limit is not None else None)
    if problem is None and produced != info.file_size:
        problem = f"declares {info.file_size} bytes but holds {produced}"
    if problem is None and crc != info.CRC:
        problem = "its CRC does not match its content"
    if problem is not None:
        return Read(span=span, problem=problem)
    return Read(content=bytes(kept) if keep_limit is not None else None, span=span)


def _stream(raw: memoryview, declared: int, kept: bytearray | None) -> tuple[int, int, str | None]:
    """Inflate ``raw`` chunk by chunk, never more than ``declared + 1`` bytes; return (size, CRC, problem)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = crc = pos = 0
    try:
        while not inflater.eof and produced <= declared:
            chunk = inflater.unconsumed_tail or raw[pos : pos + _CHUNK]
            if not inflater.unconsumed_tail:
                pos += len(chunk)
            out = inflater.decompress(chunk, min(_CHUNK, declared + 1 - produced))
            if not out and not chunk:
                break
            produced += len(out)
            crc = zlib.crc32(out, crc)
            if kept is not None:
                kept += out
    except zlib.error as exc:
        return produced, crc, f"corrupt compressed data ({exc})"
    if produced > declared:
        return produced, crc, f"inflates beyond the {declared} bytes it declares (stopped there)"
    if not inflater.eof:
        return produced, crc, "its compressed data ends early"
    return produced, crc, None
