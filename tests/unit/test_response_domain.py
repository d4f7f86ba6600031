"""Response rules without a database: last touch, window edges, offer matching, control, draws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from telmark.execution.responses import domain
from telmark.execution.responses.domain import (
    CaseRule,
    Event,
    Exposure,
    ExposureKind,
    Match,
    ResponseType,
    attribute,
)
from telmark.offers.tools import TOOL_LABELS
from telmark.warehouse.contract import OFFER_TYPES

T0 = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
RULES = {
    1: CaseRule(window_days=30, offers=frozenset({"RENEW-50"})),
    2: CaseRule(window_days=7, offers=frozenset({"UPG-5G"})),
}


def event(
    days: float,
    *,
    kind: ResponseType = ResponseType.OFFER_ACCEPTED,
    offer: str | None = "RENEW-50",
    subscriber: int = 1,
    event_id: str = "E",
) -> Event:
    return Event(event_id, subscriber, kind, offer, T0 + timedelta(days=days))


def exposure(
    exposure_id: int,
    days: float,
    *,
    case: int = 1,
    group: str = "treatment",
    kind: ExposureKind = ExposureKind.OUTBOX,
    subscriber: int = 1,
) -> Exposure:
    return Exposure(exposure_id, case, subscriber, group, kind, T0 + timedelta(days=days))


def test_the_last_touch_before_the_event_wins() -> None:
    touches = [
        exposure(1, 0),
        exposure(2, 3, kind=ExposureKind.TASK),
        exposure(3, 6),  # after the event: not a touch of it
    ]
    assert attribute([event(5)], touches, RULES) == [Match("E", 1, 2)]


def test_window_edges_are_inclusive() -> None:
    assert attribute([event(30)], [exposure(1, 0)], RULES) == [Match("E", 1, 1)]
    assert attribute([event(30 + 1e-6)], [exposure(1, 0)], RULES) == []
    assert attribute([event(0)], [exposure(1, 0)], RULES) == [Match("E", 1, 1)]
    assert attribute([event(-1e-6)], [exposure(1, 0)], RULES) == []
    # Case 2's own window is seven days.
    general = event(7.5, kind=ResponseType.PORT_OUT, offer=None)
    assert attribute([general], [exposure(1, 0, case=2)], RULES) == []


def test_an_accepted_offer_counts_only_for_cases_offering_it() -> None:
    touches = [exposure(1, 0, case=1), exposure(2, 1, case=2)]
    assert attribute([event(2, offer="RENEW-50")], touches, RULES) == [Match("E", 1, 1)]
    assert attribute([event(2, offer="UPG-5G")], touches, RULES) == [Match("E", 2, 2)]
    assert attribute([event(2, offer="OTHER")], touches, RULES) == []
    # Other events, and an acceptance naming no offer, count for every case that touched.
    for kind, offer in ((ResponseType.PLAN_CHANGE, None), (ResponseType.OFFER_ACCEPTED, None)):
        matches = attribute([event(2, kind=kind, offer=offer)], touches, RULES)
        assert matches == [Match("E", 1, 1), Match("E", 2, 2)]


def test_the_control_group_is_followed_by_the_same_rule() -> None:
    held_back = exposure(7, -0.5, group="control", kind=ExposureKind.CONTROL)
    assert attribute([event(29)], [held_back], RULES) == [Match("E", 1, 7)]
    assert attribute([event(30)], [held_back], RULES) == []
    # At the same moment a contact beats a control row (the same line in two runs).
    contact = exposure(9, -0.5)
    assert attribute([event(1)], [held_back, contact], RULES) == [Match("E", 1, 9)]


def test_other_subscribers_and_unknown_cases_attribute_nothing() -> None:
    assert attribute([event(1, subscriber=2)], [exposure(1, 0)], RULES) == []
    assert attribute([event(1)], [exposure(1, 0, case=99)], RULES) == []


def test_events_are_checked_field_by_field() -> None:
    good = {
        "event_id": "BOSS-1",
        "subscriber_id": 5,
        "event_type": "offer_accepted",
        "offer_code": "RENEW-50",
        "product_code": None,
        "occurred_at": T0,
        "revenue_fen": -500,
    }
    assert domain.check_event(**good) == []  # type: ignore[arg-type]
    bad = good | {
        "event_id": "bad id!",
        "event_type": "upsell",
        "occurred_at": datetime(2026, 10, 5),  # noqa: DTZ001 - the naive time under test
        "revenue_fen": domain.MAX_REVENUE_FEN + 1,
    }
    columns = {p.column for p in domain.check_event(**bad)}  # type: ignore[arg-type]
    assert columns == {"event_id", "type", "occurred_at", "revenue_fen"}
    unnamed = good | {"event_type": "addon_bought", "offer_code": None}
    assert [p.column for p in domain.check_event(**unnamed)] == ["offer_code"]  # type: ignore[arg-type]
    guardrail = unnamed | {"event_type": "port_out"}
    assert domain.check_event(**guardrail) == []  # type: ignore[arg-type]


def test_take_up_rounds_half_up_in_basis_points() -> None:
    assert domain.take_up_bp(2, 7) == 2857
    assert domain.take_up_bp(1, 3) == 3333
    assert domain.take_up_bp(1, 20_000) == 1  # 0.5 bp rounds up
    assert domain.take_up_bp(0, 0) is None


def test_every_offer_tool_has_its_incentive_type_in_the_truth() -> None:
    assert set(domain.TOOL_INCENTIVE) == set(TOOL_LABELS)
    assert set(domain.TOOL_INCENTIVE.values()) == set(OFFER_TYPES)
    tools = [{"tool": "leverage"}, {"tool": "gift"}, {"tool": "leverage"}]
    assert domain.incentive_types(tools) == ("co_brand", "gift")


def test_draws_depend_only_on_seed_case_subscriber_and_salt() -> None:
    ids = np.arange(1, 2001)
    draws = domain.uniforms(7, 1, ids, "respond")
    assert ((draws >= 0) & (draws < 1)).all()
    # One subscriber's draw does not depend on who else is drawn.
    assert domain.uniforms(7, 1, ids[::-1], "respond")[::-1].tolist() == draws.tolist()
    assert domain.uniforms(7, 1, ids[500:501], "respond")[0] == draws[500]
    for other in (domain.uniforms(8, 1, ids, "respond"), domain.uniforms(7, 2, ids, "respond"),
                  domain.uniforms(7, 1, ids, "when")):  # fmt: skip
        assert abs(np.corrcoef(draws, other)[0, 1]) < 0.1
    assert abs(draws.mean() - 0.5) < 0.03


def test_response_probability_adds_the_uplift_to_the_window_base() -> None:
    base = np.array([0.02, 0.5, 0.0])
    window = domain.window_probability(base, 30)
    assert window.tolist() == pytest.approx([0.02, 0.5, 0.0])
    assert domain.window_probability(base, 60)[0] == pytest.approx(1 - 0.98**2)
    chance = domain.response_probability(base, np.array([0.1, 0.7, -0.2]), 30)
    assert chance.tolist() == pytest.approx([0.12, 1.0, 0.0])
