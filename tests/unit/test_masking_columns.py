"""The Ibis column masks give exactly what the Python masks give, value for value."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ibis.backends import BaseBackend

from telmark.privacy.masking import PY_WHITESPACE, PersonalKind, mask_column, mask_value


@pytest.fixture(scope="module")
def duck() -> Iterator[BaseBackend]:
    con = ibis.duckdb.connect()
    yield con
    con.disconnect()


def _masked(con: BaseBackend, kind: PersonalKind, values: Sequence[str | None]) -> list[str | None]:
    table = ibis.memtable(
        pa.table(
            {"i": pa.array(range(len(values)), pa.int64()), "v": pa.array(values, pa.string())}
        )
    )
    column = table.select("i", m=mask_column(kind, table.v)).order_by("i")
    result: list[str | None] = con.to_pyarrow(column).column("m").to_pylist()
    return result


def test_whitespace_class_is_pythons() -> None:
    every = {c for c in map(chr, range(0x110000)) if c.isspace()}
    assert set(PY_WHITESPACE) == every


SPACES = st.sampled_from(sorted(PY_WHITESPACE))
NAMES = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=5)
DIGITS = st.text(alphabet="0123456789X", max_size=20)
ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]),
    max_size=25,
)
VALUE = st.one_of(
    st.none(),
    ANY_TEXT,
    NAMES,
    DIGITS,
    st.tuples(
        st.lists(SPACES, max_size=3),
        st.one_of(NAMES, DIGITS, ANY_TEXT),
        st.lists(SPACES, max_size=3),
    ).map(lambda t: "".join(t[0]) + t[1] + "".join(t[2])),
)


@pytest.mark.parametrize("kind", list(PersonalKind))
@settings(max_examples=60, deadline=None)
@given(values=st.lists(VALUE, min_size=1, max_size=40))
def test_column_masks_equal_python_masks(
    duck: BaseBackend, kind: PersonalKind, values: list[str | None]
) -> None:
    assert _masked(duck, kind, values) == [mask_value(kind, v) for v in values]


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (PersonalKind.MSISDN, " 13812345678 ", "138****5678"),
        (PersonalKind.ID_NUMBER, "11010119900307123X", "110101********123X"),
        (PersonalKind.NAME, "\u3000欧阳娜娜\u3000", "欧***"),
        (PersonalKind.NAME, "王", "*"),
        (PersonalKind.TEXT, "南京市玄武区", "******"),
        (PersonalKind.MSISDN, "", ""),
    ],
)
def test_documented_examples(
    duck: BaseBackend, kind: PersonalKind, value: str, expected: str
) -> None:
    assert _masked(duck, kind, [value, None]) == [expected, None]


@pytest.mark.parametrize("kind", list(PersonalKind))
def test_every_length_up_to_forty(duck: BaseBackend, kind: PersonalKind) -> None:
    # The prefix/suffix arithmetic changes with the length: cover each one, not a sample.
    values = ["1234567890王小明abcdefghijklmnopqrstuvwxyz欧阳"[:n] for n in range(41)]
    assert _masked(duck, kind, values) == [mask_value(kind, v) for v in values]
