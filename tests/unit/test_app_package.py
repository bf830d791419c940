"""The upload check of app packages (hub/apps/package.py): accepted packages, and every refusal with its details."""

from __future__ import annotations

import hashlib
import io
import stat
import struct
import tracemalloc
import zipfile
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.apps import MANIFEST
from contracts.errors import ErrorCode
from hub.apps.package import InvalidPackage, PackageLimits, inspect_package

pytestmark = pytest.mark.timeout(30)

LIMITS = PackageLimits()
ONE = b"""
[app]
name = "greenhouse-climate"
version = "1.0.0"
[runtime]
command = ["python", "main.py"]
requirements = "requirements.txt"
[http]
"""
REQUIREMENTS = (
    b"# pinned\nhttpx>=0.27  # client\n\nfoo[extra]==1.0 ; python_version >= '3.11' \\\n    --hash=sha256:abc\n"
)


def _manifest(name: str, version: str, body: str) -> bytes:
    """A manifest: the ``[app]`` table naming the app, then ``body`` (TOML)."""
    return f'[app]\nname = "{name}"\nversion = "{version}"\n{body}'.encode()


def _zip(entries: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _entry(name: str, content: bytes = b"", mode: int = 0) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info, content


def _zip_infos(*entries: tuple[zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, content in entries:
            archive.writestr(info, content)
    return buffer.getvalue()


def _app(**extra: bytes) -> dict[str, bytes]:
    return {MANIFEST: ONE, "main.py": b"print('hi')\n", "requirements.txt": REQUIREMENTS, **extra}


def _refusal(data: bytes, limits: PackageLimits = LIMITS) -> list[dict[str, str]]:
    with pytest.raises(InvalidPackage) as caught:
        inspect_package(data, limits)
    assert caught.value.code is ErrorCode.INVALID_PACKAGE and caught.value.message
    return caught.value.details


def test_a_one_service_app_is_accepted_with_its_digest_size_and_files() -> None:
    data = _zip(_app(**{"lib/util.py": b"x = 1\n", "lib/": b""}))
    package = inspect_package(data, LIMITS)
    assert package.manifest.app.name == "greenhouse-climate"
    assert (package.digest, package.size, package.root) == (hashlib.sha256(data).hexdigest(), len(data), "")
    assert {f.path: f.size for f in package.files} == {
        MANIFEST: len(ONE),
        "main.py": 12,
        "requirements.txt": len(REQUIREMENTS),
        "lib/util.py": 6,
    }
    assert package.uncompressed_size == len(ONE) + 12 + len(REQUIREMENTS) + 6


def test_a_multi_service_app_with_a_dockerfile_under_one_top_directory_is_accepted() -> None:
    manifest = _manifest(
        "pipeline",
        "2.0.0",
        """
[[services]]
name = "reader"
runtime = { command = ["python", "-u", "./reader/run.py", "--fast"] }
outputs = ["level"]
[[services]]
name = "web"
default = true
runtime = { kind = "container", dockerfile = "web/Dockerfile", command = ["/srv/start", "x.py"] }
inputs = ["level"]
[[services]]
name = "tool"
runtime = { command = ["bin/serve", "-m", "tool", "-c", "import a; b.py"] }
[[wires]]
from = "reader.level"
to = "web.level"
""",
    )
    entries = {"pipeline/" + MANIFEST: manifest, "pipeline/reader/run.py": b"", "pipeline/web/Dockerfile": b"FROM x"}
    package = inspect_package(_zip({**entries, "pipeline/bin/serve": b"#!/bin/sh\n"}), LIMITS)
    assert package.root == "pipeline/"
    assert sorted(f.path for f in package.files) == ["bin/serve", MANIFEST, "reader/run.py", "web/Dockerfile"]
    assert [s.name for s in package.manifest.all_services()] == ["reader", "web", "tool"]


def test_bytes_that_are_not_a_zip_or_too_large() -> None:
    assert _refusal(b"hello") == [{"path": "", "problem": "not a zip archive"}]
    data = _zip(_app())
    assert _refusal(data, PackageLimits(max_compressed_size=len(data) - 1)) == [
        {"path": "", "problem": f"{len(data)} bytes, over the limit of {len(data) - 1}"}
    ]
    broken = bytearray(data)
    first = data.index(b"PK\x01\x02")
    broken[first : first + 4] = b"PK\x01\x09"  # the first central directory entry's signature
    assert _refusal(bytes(broken))[0]["problem"].startswith("not a readable zip archive")
    broken[-10:-6] = b"\xff\xff\xff\x7f"  # the central directory's size
    assert _refusal(bytes(broken)) == [
        {"path": "", "problem": "a central directory of 2147483647 bytes, more than 10000 entries take"}
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("/etc/passwd", "an absolute path (paths must be relative)"),
        ("C:/evil.py", "a drive letter (paths must be relative)"),
        ("a\\b.py", "a backslash in the name (use forward slashes)"),
        ("../evil.py", "a '..' segment (it would escape the package)"),
        ("lib/../../evil.py", "a '..' segment (it would escape the package)"),
        ("a\x00.py", "a NUL character in the name"),
        ("./main2.py", "not in normal form (an empty or '.' segment)"),
        ("lib//x.py", "not in normal form (an empty or '.' segment)"),
        ("x" * 256, "a name of 256 characters, over the limit of 255"),
    ],
)
def test_entry_names_that_could_escape_or_clash_are_refused(name: str, problem: str) -> None:
    # zipfile cuts a name at NUL when writing: write a stand-in and put the NUL in both headers by hand.
    data = _zip(_app(**{name.replace("\x00", "\x01"): b"x"})).replace(b"a\x01.py", b"a\x00.py")
    assert _refusal(data) == [{"path": name, "problem": problem}]


def test_duplicates_exact_by_case_by_normalisation_and_file_directory_clashes() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = _zip_infos(*(_entry(n, c) for n, c in {**_app(), "a.py": b""}.items()), _entry("a.py"))
        assert _refusal(data) == [{"path": "a.py", "problem": "a duplicate entry"}]
    data = _zip_infos(
        *(_entry(n, c) for n, c in _app().items()),
        _entry("Data.csv", b"1"),
        _entry("data.CSV", b"2"),
        _entry("caf\u00e9.txt"),
        _entry("cafe\u0301.txt"),
        _entry("lib", b"file"),
        _entry("lib/x.py"),
    )
    assert _refusal(data) == [
        {"path": "data.CSV", "problem": "the same name as 'Data.csv' but for case"},
        {"path": "cafe\u0301.txt", "problem": "the same name as 'caf\u00e9.txt' but for case"},
        {"path": "lib", "problem": "a file that is also the directory of other entries"},
    ]


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        (stat.S_IFLNK | 0o777, "a symbolic link (only regular files and directories are allowed)"),
        (stat.S_IFCHR | 0o666, "a device, FIFO or socket (only regular files and directories are allowed)"),
        (stat.S_IFBLK | 0o666, "a device, FIFO or socket (only regular files and directories are allowed)"),
        (stat.S_IFIFO | 0o666, "a device, FIFO or socket (only regular files and directories are allowed)"),
        (stat.S_IFSOCK | 0o666, "a device, FIFO or socket (only regular files and directories are allowed)"),
        (stat.S_IFDIR | 0o755, "a directory whose name does not end in '/', or a file whose name does"),
    ],
)
def test_links_devices_and_other_non_regular_files_are_refused(mode: int, problem: str) -> None:
    app = [_entry(n, c, stat.S_IFREG | 0o644) for n, c in _app().items()]
    data = _zip_infos(*app, _entry("link", b"/etc/passwd", mode), _entry("dir/", b"", stat.S_IFDIR | 0o755))
    assert _refusal(data) == [{"path": "link", "problem": problem}]


def test_the_manifest_missing_or_not_at_the_root() -> None:
    missing = {
        "path": MANIFEST,
        "problem": "missing: the manifest must be at the root of the package or of its one top directory",
    }
    assert _refusal(_zip({"main.py": b""})) == [missing]
    assert _refusal(_zip({"a/" + MANIFEST: ONE, "b/main.py": b""})) == [missing]
    assert _refusal(_zip({"a/b/" + MANIFEST: ONE})) == [missing]


def test_a_manifest_that_is_not_toml_or_breaks_the_contract() -> None:
    assert _refusal(_zip({MANIFEST: b"[app\n"}))[0]["path"] == MANIFEST
    assert _refusal(_zip({MANIFEST: b"\xff"})) == [{"path": MANIFEST, "problem": "not UTF-8"}]
    bad = b'[app]\nname = "Bad_Name"\nversion = "1"\n[runtime]\ncommand = ["python", "main.py"]\nimage = "x:1"\n'
    details = _refusal(_zip({MANIFEST: bad, "main.py": b""}))
    assert [d["path"] for d in details] == ["app.name", "app.version", "runtime"]
    assert details[2]["problem"] == "image and dockerfile belong to a container runtime"
    details = _refusal(_zip({MANIFEST: b'[app]\nname = "a"\nversion = "1.0.0"\n'}))
    assert details == [{"path": MANIFEST, "problem": "the manifest needs a [runtime] (or [[services]])"}]


def test_files_the_manifest_names_must_be_in_the_package() -> None:
    manifest = _manifest(
        "a",
        "1.0.0",
        """
[[services]]
name = "one"
default = true
runtime = { command = ["python", "one.py"], requirements = "req.txt" }
[[services]]
name = "two"
runtime = { command = ["./run.sh"] }
[[services]]
name = "three"
runtime = { kind = "container", dockerfile = "Dockerfile" }
""",
    )
    assert _refusal(_zip({MANIFEST: manifest})) == [
        {"path": "services.0.runtime.command", "problem": "names 'one.py', which is not in the package"},
        {"path": "services.0.runtime.requirements", "problem": "'req.txt' is not in the package"},
        {"path": "services.1.runtime.command", "problem": "names 'run.sh', which is not in the package"},
        {"path": "services.2.runtime.dockerfile", "problem": "'Dockerfile' is not in the package"},
    ]


def test_requirements_lines_that_do_not_parse_or_include_others() -> None:
    requirements = b"ok==1\n-r other.txt\n-rother.txt\n--index-url https://evil\n-e .\nnot a requirement!\n\xc3\n"
    details = _refusal(_zip(_app(**{"requirements.txt": requirements[:-2]})))
    assert [d["path"] for d in details] == [f"requirements.txt:{n}" for n in (2, 3, 4, 5, 6)]
    assert details[0]["problem"] == "-r includes are not allowed: list every requirement in this one file"
    assert details[1]["problem"] == details[0]["problem"]
    assert (
        details[2]["problem"] == "the option --index-url is not allowed: the node installs from its own package index"
    )
    assert details[4]["problem"].startswith("not a valid requirement: ")
    assert _refusal(_zip(_app(**{"requirements.txt": b"\xff"}))) == [
        {"path": "requirements.txt", "problem": "not UTF-8"}
    ]


def test_declared_sizes_count_and_ratio_over_the_limits() -> None:
    limits = PackageLimits(max_entry_size=1000, max_uncompressed_size=1500, ratio_exempt_size=100, max_ratio=10)
    data = _zip(_app(**{"big.bin": b"\0" * 1001, "zeros.bin": b"\0" * 900, "b.bin": b"\0" * 600}))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        ratios = {n: archive.getinfo(n).file_size // archive.getinfo(n).compress_size for n in ("zeros.bin", "b.bin")}
    assert _refusal(data, limits) == [
        {"path": "big.bin", "problem": "declares 1001 bytes, over the limit of 1000 per entry"},
        {"path": "zeros.bin", "problem": f"a compression ratio of {ratios['zeros.bin']}, over the limit of 10"},
        {"path": "b.bin", "problem": f"a compression ratio of {ratios['b.bin']}, over the limit of 10"},
    ]
    data = _zip(_app(**{"a.bin": b"\0" * 800, "b.bin": b"\0" * 800}), method=zipfile.ZIP_STORED)
    total = 1600 + len(ONE) + 12 + len(REQUIREMENTS)
    assert _refusal(data, limits) == [
        {"path": "", "problem": f"declares {total} bytes uncompressed, over the limit of 1500"}
    ]
    assert _refusal(_zip(_app(**{"x": b""})), PackageLimits(max_entries=3)) == [
        {"path": "", "problem": "declares 4 entries, over the limit of 3"}
    ]


def _lying_zip(name: str, stream: bytes, declared: int, crc: int) -> bytes:
    """A one-deflated-entry zip (plus an app) whose headers declare ``declared`` bytes for ``stream``."""
    app = _zip(_app())
    with zipfile.ZipFile(io.BytesIO(app)) as archive:
        infos = archive.infolist()
    cd_start = min(i.header_offset for i in infos) + sum(  # the app's local part ends where its CD starts
        30 + len(i.orig_filename.encode()) + len(i.extra) + i.compress_size for i in infos
    )
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream), declared, len(name), 0)
    offset = cd_start
    central = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(stream), declared, len(name), 0, 0, 0, 0, 0, offset
    )
    old_cd = app[cd_start : app.rindex(b"PK\x05\x06")]
    body = app[:cd_start] + local + name.encode() + stream
    cd = old_cd + central + name.encode()
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(infos) + 1, len(infos) + 1, len(cd), len(body), 0)
    return body + cd + end


def test_a_bomb_lying_about_its_size_is_stopped_without_inflating_it(monkeypatch: pytest.MonkeyPatch) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = b"\0" * (1 << 20)
    stream = b"".join(compressor.compress(zeros) for _ in range(256)) + compressor.flush()  # 256 MiB inflated
    data = _lying_zip("bomb.bin", stream, declared=1000, crc=zlib.crc32(b"\0" * 1000))
    inflated = 0
    real = zlib.decompressobj

    class Counting:
        def __init__(self, wbits: int) -> None:
            self._inner = real(wbits)

        def decompress(self, chunk: Any, max_length: int) -> bytes:
            nonlocal inflated
            out = self._inner.decompress(chunk, max_length)
            inflated += len(out)
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    tracemalloc.start()
    try:
        details = _refusal(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert details == [{"path": "bomb.bin", "problem": "inflates beyond the 1000 bytes it declares (stopped there)"}]
    assert inflated < 1 << 20 and peak < 4 << 20


def test_entries_that_lie_short_corrupt_or_overlap() -> None:
    payload = b"hello world" * 10
    stream = zlib.compress(payload)[2:-4]
    assert _refusal(_lying_zip("short.bin", stream, declared=len(payload) + 5, crc=zlib.crc32(payload))) == [
        {"path": "short.bin", "problem": f"declares {len(payload) + 5} bytes but holds {len(payload)}"}
    ]
    assert _refusal(_lying_zip("crc.bin", stream, declared=len(payload), crc=1)) == [
        {"path": "crc.bin", "problem": "its CRC does not match its content"}
    ]
    assert _refusal(_lying_zip("cut.bin", stream[:5], declared=len(payload), crc=0)) == [
        {"path": "cut.bin", "problem": "its compressed data ends early"}
    ]
    garbage = _refusal(_lying_zip("bad.bin", b"\xff" * 20, declared=10, crc=0))
    assert garbage[0]["problem"].startswith("corrupt compressed data")
    data = _zip(_app(**{"a.py": payload}))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("a.py")
    twin = struct.pack(
        "<4s6H3L5H2L",
        b"PK\x01\x02",
        20,
        20,
        0,
        8,
        0,
        0,
        info.CRC,
        info.compress_size,
        info.file_size,
        4,
        0,
        0,
        0,
        0,
        0,
        info.header_offset,
    )
    eocd = data.rindex(b"PK\x05\x06")
    entries = int.from_bytes(data[eocd + 10 : eocd + 12], "little")
    cd_size = int.from_bytes(data[eocd + 12 : eocd + 16], "little")
    cd_offset = int.from_bytes(data[eocd + 16 : eocd + 20], "little")
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries + 1, entries + 1, cd_size + len(twin) + 4, cd_offset, 0)
    overlapping = data[:eocd] + twin + b"b.py" + end
    details = _refusal(overlapping)
    assert {"path": "b.py", "problem": "its local header names another file"} in details


def test_several_problems_are_reported_at_once_and_capped() -> None:
    data = _zip({"../x": b"", "/abs": b"", "main.py": b"", "a\\b": b""})
    assert [d["path"] for d in _refusal(data)] == ["../x", "/abs", "a\\b", MANIFEST]
    many = _zip({f"../{i}": b"" for i in range(12)})
    details = _refusal(many, PackageLimits(max_problems=5))
    assert len(details) == 6 and details[-1] == {"path": "", "problem": "8 more problem(s) not listed"}


def test_a_directory_entry_holding_data_and_unsupported_methods() -> None:
    data = _zip_infos(*(_entry(n, c) for n, c in _app().items()), _entry("d/", b"data", stat.S_IFDIR | 0o755))
    assert _refusal(data) == [{"path": "d/", "problem": "a directory entry holding data"}]
    data = _zip({**_app(), "x.bz2": b"data"}, method=zipfile.ZIP_BZIP2)
    assert {"path": "x.bz2", "problem": "compression method 12 (only stored and deflated are supported)"} in _refusal(
        data
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_nothing_but_invalid_package(data: bytes) -> None:
    with pytest.raises(InvalidPackage):
        inspect_package(data, LIMITS)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_damaged_valid_package_raises_nothing_but_invalid_package_or_passes(data: st.DataObject) -> None:
    package = bytearray(_zip(_app(**{"lib/x.py": b"x = 1\n" * 20})))
    for _ in range(data.draw(st.integers(1, 4))):
        package[data.draw(st.integers(0, len(package) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(package)))
    try:
        inspect_package(bytes(package[:cut] if data.draw(st.booleans()) else package), LIMITS)
    except InvalidPackage as exc:
        assert exc.details and all(set(d) == {"path", "problem"} for d in exc.details)
