"""Pseudo-random numbers from record keys: sha256 of salt NUL key, uniform on [0, 1), independent across salts."""

import hashlib

import numpy as np

from wsl_tf.keys import key_fraction


def test_a_fraction_is_the_first_eight_bytes_of_the_salted_sha256_over_two_to_the_64():
    for key, salt in (("photo/1", "split"), ("élan/🐱", ""), ("x", "lang")):
        digest = hashlib.sha256(salt.encode() + b"\0" + key.encode()).digest()
        assert key_fraction(key, salt) == int.from_bytes(digest[:8], "big") / 2**64


def test_fractions_are_uniform_and_two_salts_independent():
    keys = [f"collection/{i}" for i in range(20_000)]
    split = np.array([key_fraction(k, "split") for k in keys])
    language = np.array([key_fraction(k, "lang") for k in keys])
    assert split.min() >= 0.0 and split.max() < 1.0
    counts = np.histogram(split, bins=10, range=(0, 1))[0]
    chi_square = ((counts - 2000) ** 2 / 2000).sum()
    assert chi_square < 27.9  # The 0.999 quantile of chi-square with 9 degrees of freedom.
    assert abs(np.corrcoef(split, language)[0, 1]) < 0.03  # About 4.5 standard errors of a zero correlation.
