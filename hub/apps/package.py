"""The upload check of an app package: a zip refused with every problem found, or accepted with its manifest.

Pure: :func:`inspect_package` reads only the bytes it is given, never the disk, and keeps in memory only the
manifest and the requirements file (each at most :attr:`PackageLimits.max_text_size`). Every problem is one
``{"path", "problem"}`` in :attr:`InvalidPackage.details`; ``path`` is an entry name as stored in the zip,
``""`` for the package as a whole, a dotted manifest key (``app.version``, ``services.0.runtime.command``,
or ``fieldhub-app.toml`` for the manifest as a whole) or ``FILE:LINE`` for a requirements line.

The rules:

- Sizes: the upload (:attr:`~PackageLimits.max_compressed_size`), each entry and the sum of entries
  uncompressed, and each entry's compression ratio (entries inflating beyond
  :attr:`~PackageLimits.ratio_exempt_size` only) are judged from the central directory first. Entries are
  then inflated, streamed and discarded, with the size each declares as the cap: an entry that inflates beyond
  what it declares (a zip bomb lying in its headers) is stopped there, so no more than the declared total,
  itself under the limit, is ever inflated. Its length and CRC must then match what it declares. Only stored
  and deflated entries are accepted (what the agent extracts), none encrypted, and entries must not overlap
  (the overlapping-files zip bomb). The central directory may take at most 512 bytes per allowed entry, so
  even a refused package is never parsed into more than a bounded number of entries.
- Names: relative, forward slashes only, no drive letter, no NUL, no ``..`` segment, no ``.`` or empty
  segment (what is stored is its own normal form, so nothing escapes the package after normalisation), at
  most :attr:`~PackageLimits.max_name_length` characters; no two entries equal ignoring case and Unicode
  normalisation (they would clash on a case-insensitive or normalising file system), and no file that is
  also a directory of another entry.
- Kinds: only regular files and directories (names ending in ``/``, holding no data). The Unix mode in the
  high 16 bits of ``external_attr`` is honoured whatever system wrote the zip, because extractors honour it:
  symbolic links, devices, FIFOs and sockets are refused.
- Root: the manifest ``fieldhub-app.toml`` is at the root of the zip, or, when every entry is under one
  top-level directory (``zip -r app.zip app/``, a Git host's archive), at the root of that directory; that
  directory is then the package's :attr:`Package.root` and every path the manifest names is relative to it.
- Manifest: UTF-8 TOML valid against :class:`contracts.apps.AppManifest`; pydantic's errors become dotted keys.
- Command (python runtimes only; a container's command runs inside its image): an argument names a file of
  the package, which must then be present, when it is a relative path ending in ``.py`` (``python main.py``,
  ``python -u app/serve.py``), or when it is the program itself and contains a ``/`` (``./run.sh``,
  ``bin/serve``). Options (``-m app``), absolute paths, ``$VARIABLES`` and arguments holding spaces (the code
  of ``-c``) are not checked. A leading ``./`` is dropped.
- Requirements (python): the file is present, UTF-8, and every line (after joining ``\\``-continued lines and
  dropping comments and blank lines) parses as a PEP 508 requirement, optionally followed by ``--hash=``
  options as ``pip-compile --generate-hashes`` writes them. Every other option is refused: ``-r``/``-c``
  includes (the node installs from exactly one file), and ``-e``, ``--index-url`` and the like (the node
  installs from the package index it is configured with, never one a package chooses).
- Dockerfile (container): when the runtime names one, it is present.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from contracts.apps import AppManifest
from hub.apps.archive import check_entries, open_archive
from hub.apps.limits import MiB, PackageLimits
from hub.apps.manifest_checks import Contents, check_manifest, check_referenced_files
from hub.apps.problems import InvalidPackage, Problems

__all__ = ["InvalidPackage", "MiB", "Package", "PackageFile", "PackageLimits", "inspect_package"]


@dataclass(frozen=True, slots=True)
class PackageFile:
    """A regular file of a package: its path relative to :attr:`Package.root` and its size inflated."""

    path: str
    size: int


@dataclass(frozen=True, slots=True)
class Package:
    """An accepted package.

    Attributes:
        manifest: the parsed manifest.
        digest: the sha256 of the uploaded bytes, in hex.
        size: the uploaded (compressed) size in bytes.
        root: ``""``, or ``"DIR/"`` when every entry is under that one top-level directory.
        files: every regular file, relative to ``root``, in the zip's order.
    """

    manifest: AppManifest
    digest: str
    size: int
    root: str
    files: tuple[PackageFile, ...]

    @property
    def uncompressed_size(self) -> int:
        return sum(f.size for f in self.files)


def inspect_package(data: bytes, limits: PackageLimits) -> Package:
    """Check an uploaded app package completely, before anything is stored.

    Args:
        data: the uploaded zip.
        limits: the sizes and counts allowed.

    Returns:
        The package, its manifest parsed.

    Raises:
        InvalidPackage: with every problem found (see the module's rules).
    """
    problems = Problems(limits.max_problems)
    if len(data) > limits.max_compressed_size:
        problems.add("", f"{len(data)} bytes, over the limit of {limits.max_compressed_size}")
        problems.raise_if_any()
    archive = open_archive(data, limits, problems)
    problems.raise_if_any()
    assert archive is not None
    files, manifest_text, root = check_entries(data, archive, limits, problems)
    manifest = check_manifest(manifest_text, root, problems)
    if manifest is not None:
        check_referenced_files(Contents(data, archive, root, files, limits), manifest, problems)
    problems.raise_if_any()
    assert manifest is not None
    return Package(
        manifest=manifest,
        digest=hashlib.sha256(data).hexdigest(),
        size=len(data),
        root=root,
        files=tuple(PackageFile(path, size) for path, size in files.items()),
    )
