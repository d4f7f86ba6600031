"""Personal data of synthetic people: names, mobile numbers, resident ID numbers.

All of it is made vectorially. Mobile numbers are unique without any lookup:
subscriber number k maps to a number through a bijection of the whole number
space (an affine permutation, then a second one inside each prefix block).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from telmark.warehouse.generator.arrays import (
    BoolArray,
    IntArray,
    digit_matrix,
    fixed_strings,
    join,
    take,
    vocabulary,
)
from telmark.warehouse.generator.names import GIVEN_FEMALE, GIVEN_MALE, MSISDN_PREFIXES, SURNAMES

_SINGLE_NAME_SHARE = 0.3  # given names of one character; the rest have two


@lru_cache(maxsize=1)
def _name_vocab() -> tuple[pa.Array, np.ndarray, pa.Array]:
    """Surnames with their CDF, and given names: for each sex its singles then its pairs."""
    surnames = vocabulary([s for s, _ in SURNAMES])
    weights = np.array([w for _, w in SURNAMES])
    given: list[str] = []
    for chars in (GIVEN_MALE, GIVEN_FEMALE):
        given += list(chars) + [a + b for a in chars for b in chars]
    return surnames, np.cumsum(weights) / weights.sum(), vocabulary(given)


def person_names(rng: np.random.Generator, female: BoolArray) -> pa.Array:
    """Chinese full names (surname + one or two given characters) matching each gender."""
    surnames, surname_cdf, given = _name_vocab()
    n = len(female)
    surname = np.searchsorted(surname_cdf, rng.random(n), side="right")
    surname = np.minimum(surname, len(surname_cdf) - 1)
    # Given names are uniform among singles and among pairs of the sex's characters.
    chars = np.where(female, len(GIVEN_FEMALE), len(GIVEN_MALE))
    offset = np.where(female, len(GIVEN_MALE) * (1 + len(GIVEN_MALE)), 0)
    single = rng.random(n) < _SINGLE_NAME_SHARE
    u = rng.random(n)
    index = np.where(
        single, (u * chars).astype(np.int64), chars + (u * chars * chars).astype(np.int64)
    )
    return join(take(surnames, surname), take(given, offset + index))


_BLOCK = 100_000_000  # numbers per 3-digit prefix


def msisdn_numbers(subscriber_ids: IntArray, *, seed: int) -> IntArray:
    """Unique 11-digit mobile numbers (as integers) for distinct subscriber ids."""
    prefixes = np.array(MSISDN_PREFIXES, dtype=np.int64)
    space = len(prefixes) * _BLOCK
    # Multipliers coprime with the space (whose factors are 2, 5 and 23) keep
    # both maps bijective, so distinct subscribers never share a number.
    mix = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    a = int(mix.integers(10**8, 10**9)) * 2 + 1
    while a % 5 == 0 or a % 23 == 0:
        a += 2
    b = int(mix.integers(0, space))
    c = int(mix.integers(10**6, 10**7)) * 2 + 1
    while c % 5 == 0:
        c += 2
    shifts = mix.integers(0, _BLOCK, len(prefixes))
    k = (subscriber_ids - 1) % space
    # a * k stays below 2^63 for k < 2.3e9 because a < 2e9 + 25.
    v = (a * k + b) % space
    block = v // _BLOCK
    rest = (c * (v % _BLOCK) + shifts[block]) % _BLOCK
    result: IntArray = prefixes[block] * _BLOCK + rest
    return result


def msisdns(subscriber_ids: IntArray, *, seed: int) -> pa.Array:
    return fixed_strings(digit_matrix(msisdn_numbers(subscriber_ids, seed=seed), 11))


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def id_check_char(first17: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """ISO 7064 MOD 11-2 check character (ASCII) of rows of 17 ASCII digits."""
    digits = first17.astype(np.int64) - 48
    check: npt.NDArray[np.uint8] = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
    return check


def id_numbers(
    rng: np.random.Generator, *, region: IntArray, birth_days: IntArray, female: BoolArray
) -> pa.Array:
    """18-character resident ID numbers: region, birth date, sequence (odd = male), check."""
    n = len(region)
    born = birth_days.astype("datetime64[D]")
    month_start = born.astype("datetime64[M]")
    year = month_start.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (born - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    # The 17th digit's parity is the holder's sex: odd for men, even for women.
    sequence = rng.integers(1, 500, n) * 2 + (~female).astype(np.int64)
    matrix = np.empty((n, 18), dtype=np.uint8)
    matrix[:, 0:6] = digit_matrix(region, 6)
    matrix[:, 6:14] = digit_matrix(year * 10_000 + month * 100 + day, 8)
    matrix[:, 14:17] = digit_matrix(sequence, 3)
    matrix[:, 17] = id_check_char(matrix[:, :17])
    return fixed_strings(matrix)
