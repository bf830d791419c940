"""Semantic-version precedence of app versions (the order the apps store lists them in)."""

from __future__ import annotations

import random

from hub.store.apps import version_key


def test_version_key_follows_semver_precedence() -> None:
    # The ordering example of Semantic Versioning 2.0.0, section 11, and numbers compared as numbers.
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11"]
    ordered += ["1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "2.0.0", "2.1.0", "2.1.1"]
    for seed in range(5):
        assert sorted(random.Random(seed).sample(ordered, len(ordered)), key=version_key) == ordered


def test_build_metadata_is_ignored_and_non_semver_ranks_lowest() -> None:
    assert version_key("1.0.0+build.7") == version_key("1.0.0")
    assert version_key("not-a-version") < version_key("0.0.0-0")
