"""Benchmarks behind ``fieldhub bench`` (``make bench``)."""
