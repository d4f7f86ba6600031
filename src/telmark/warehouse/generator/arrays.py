"""Vectorised builders of Arrow columns from numpy arrays (no Python loop per row).

Strings are made three ways, all in C: fixed-width ASCII codes from numpy byte
matrices handed to Arrow as raw buffers; categorical values by ``take`` from a
small vocabulary; and concatenations by Arrow's element-wise join.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
AnyArray = npt.NDArray[np.generic]

EPOCH = date(1970, 1, 1)
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000


def day_number(day: date) -> int:
    """Days since 1970-01-01 (Arrow's date32 value)."""
    return (day - EPOCH).days


def _validity(valid: BoolArray | None) -> pa.Buffer | None:
    if valid is None or bool(valid.all()):
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


# ASCII of every 4-digit group 0000…9999: digits come four at a time from one
# division and a table lookup instead of one division per digit.
_QUADS = np.array([list(f"{i:04d}".encode()) for i in range(10_000)], dtype=np.uint8)
_QUAD_WORDS = _QUADS.view(np.uint32).ravel()  # one 4-byte word per group: a 1-D gather


def digit_matrix(values: IntArray, width: int) -> npt.NDArray[np.uint8]:
    """ASCII digits of non-negative integers, zero-padded to ``width`` columns."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = np.asarray(values, dtype=np.int64)
    end = width
    while end > 0:
        count = min(4, end)
        rest, group = np.divmod(rest, 10_000)
        quads = _QUAD_WORDS[group].view(np.uint8).reshape(-1, 4)
        out[:, end - count : end] = quads[:, 4 - count :]
        end -= count
    return out


def fixed_strings(matrix: npt.NDArray[np.uint8], valid: BoolArray | None = None) -> pa.Array:
    """One string per row of a byte matrix (every string has the matrix's width)."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), _validity(valid)
    )


def codes(prefix: str, numbers: IntArray, width: int, valid: BoolArray | None = None) -> pa.Array:
    """Codes such as ``H0000001234``: an ASCII prefix and a zero-padded number."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    matrix = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = head
    matrix[:, len(head) :] = digit_matrix(numbers, width)
    return fixed_strings(matrix, valid)


def vocabulary(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def take(vocab: pa.Array, index: AnyArray, valid: BoolArray | None = None) -> pa.Array:
    """``vocab[index]`` per row; rows where ``valid`` is false become null."""
    idx = np.asarray(index, dtype=np.int32)
    if valid is None or bool(valid.all()):
        return vocab.take(pa.array(idx))
    return vocab.take(pa.array(np.where(valid, idx, 0), mask=~valid))


def join(*parts: pa.Array) -> pa.Array:
    """Element-wise concatenation of string arrays."""
    return pc.binary_join_element_wise(*parts, "")


def ints(values: AnyArray, valid: BoolArray | None = None) -> pa.Array:
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [_validity(valid), pa.py_buffer(data)])


def floats(values: AnyArray) -> pa.Array:
    return pa.array(np.ascontiguousarray(values, dtype=np.float64), type=pa.float64())


def bools(values: BoolArray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.bool_), type=pa.bool_())


def dates(days: AnyArray, valid: BoolArray | None = None) -> pa.Array:
    data = np.ascontiguousarray(days, dtype=np.int32)
    return pa.Array.from_buffers(pa.date32(), len(data), [_validity(valid), pa.py_buffer(data)])


TIMESTAMP = pa.timestamp("us", tz="UTC")


def timestamps(micros: AnyArray, valid: BoolArray | None = None) -> pa.Array:
    data = np.ascontiguousarray(micros, dtype=np.int64)
    return pa.Array.from_buffers(TIMESTAMP, len(data), [_validity(valid), pa.py_buffer(data)])
