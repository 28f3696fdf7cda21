"""Stable, machine-independent pseudo-random numbers from record keys."""

import hashlib


def key_fraction(key: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by `key` (and `salt`), the same everywhere.

    Different salts give independent numbers, so that, say, the split and the
    caption language of a record are not correlated.
    """
    digest = hashlib.sha256(f"{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64
