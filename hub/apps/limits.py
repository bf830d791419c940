"""What an uploaded app package may take (:class:`PackageLimits`)."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PackageLimits:
    """What an uploaded package may take; the defaults suit a Python app with its assets.

    Attributes:
        max_compressed_size: the zip itself (50 MiB).
        max_uncompressed_size: every entry inflated, summed (200 MiB).
        max_entry_size: one entry inflated (50 MiB: a model file or a wheel cache is the large case).
        max_ratio: inflated / compressed size of one entry (100; text compresses ~3-10x, a bomb ~1000x).
        ratio_exempt_size: entries up to this size inflated (1 MiB) skip the ratio check (a small file of
            repeated bytes is harmless).
        max_entries: entries, directories included (10,000).
        max_name_length: characters of an entry's name (255).
        max_text_size: the manifest and the requirements file, which are read into memory (1 MiB).
        max_problems: problems listed before the rest are summarised in one last detail (1,000).
    """

    max_compressed_size: int = 50 * MiB
    max_uncompressed_size: int = 200 * MiB
    max_entry_size: int = 50 * MiB
    max_ratio: int = 100
    ratio_exempt_size: int = 1 * MiB
    max_entries: int = 10_000
    max_name_length: int = 255
    max_text_size: int = 1 * MiB
    max_problems: int = 1_000
