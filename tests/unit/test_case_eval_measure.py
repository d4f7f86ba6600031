"""The aggregation behind a case evaluation, on hand-made rows (an in-process DuckDB)."""

from __future__ import annotations

import pyarrow as pa

from telmark.evaluation.cases import service
from telmark.evaluation.cases.domain import Dimension


def _exposures(rows: list[tuple[int, str, str, str, str, str]]) -> pa.Table:
    names = service.EXPOSURE_SCHEMA.names
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows],
                                schema=service.EXPOSURE_SCHEMA)  # fmt: skip


def _attributions(rows: list[tuple[int, str, str, int, str, str, str, int]]) -> pa.Table:
    names = service.ATTRIBUTION_SCHEMA.names
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows],
                                schema=service.ATTRIBUTION_SCHEMA)  # fmt: skip


def test_a_subscriber_contacted_twice_is_one_exposed_and_two_contacts() -> None:
    exposures = _exposures([
        (1, "treatment", "outbox", "sms", "A", "C01"),
        (1, "treatment", "outbox", "outbound", "A", "C01"),  # a second contact, another channel
        (2, "treatment", "outbox", "sms", "A", "C02"),
        (3, "control", "control", "sms", "A", "C01"),
        (4, "control", "control", "sms", "A", "C02"),
    ])  # fmt: skip
    attributions = _attributions([
        (1, "treatment", "offer_accepted", 3_000, "outbound", "A", "C01", 2),
        (1, "treatment", "complaint", 0, "outbound", "A", "C01", 3),
        (3, "control", "offer_accepted", 3_000, "sms", "A", "C01", 5),
    ])  # fmt: skip
    measured = service.measure_tables(exposures, attributions, dimensions=list(Dimension))
    overall = measured.overall
    assert (overall.treatment.exposed, overall.treatment.responders) == (2, 1)
    assert (overall.control.exposed, overall.control.responders) == (2, 1)
    assert overall.treatment.guardrails == {"complaint": 1}
    assert (overall.treatment.revenue_sum_fen, overall.treatment.revenue_sumsq) == (
        3_000,
        9_000_000,
    )
    parts = {(p.offer_code, p.channel): (p.contacts, p.takers) for p in overall.costs}
    assert parts == {("A", "outbound"): (1, 1), ("A", "sms"): (2, 0)}
    channels = {c.key: c for c in measured.breakdowns[Dimension.CHANNEL]}
    # Under each channel it was exposed through, subscriber 1 counts once; the take-up counts
    # under its last touch (outbound) only.
    assert (channels["sms"].treatment.exposed, channels["sms"].treatment.responders) == (2, 0)
    assert (channels["outbound"].treatment.exposed, channels["outbound"].treatment.responders) == (
        1,
        1,
    )
    cities = {c.key: c for c in measured.breakdowns[Dimension.CITY]}
    assert (cities["C01"].treatment.exposed, cities["C01"].control.exposed) == (1, 1)
    assert measured.daily == {"treatment": {2: 1}, "control": {5: 1}}


def test_one_contact_each_is_summed_from_one_pass() -> None:
    exposures = _exposures([
        (s, "control" if s % 4 == 0 else "treatment", "control" if s % 4 == 0 else "outbox",
         "sms", "A", f"C0{s % 3}")
        for s in range(1, 41)
    ])  # fmt: skip
    measured = service.measure_tables(exposures, _attributions([]), dimensions=[Dimension.CITY])
    assert (measured.overall.treatment.exposed, measured.overall.control.exposed) == (30, 10)
    cities = measured.breakdowns[Dimension.CITY]
    assert sum(c.treatment.exposed + c.control.exposed for c in cities) == 40
    assert measured.overall.costs[0].contacts == 30
