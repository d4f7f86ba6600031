"""The demo's responses: the synthetic province's hidden response model answers the contacts.

Demo data only. The generator (``warehouse.generator.truth``) writes
``truth_response`` beside the contract tables: each line's monthly take-up
probability uncontacted (``base_propensity``) and the probability an incentive
type adds when offered (``uplift_<type>``, negative for "sleeping dogs"). An
operator's warehouse has no such table, and a simulation refuses to run there.

For every case and subscriber the case exposed — a sent outbox message or a
front-line task that reached the customer (treatment), or a control row — one
draw is made, anchored at the subscriber's first exposure in the case (its
first contact when treated):

* probability ``p = clip(1 - (1 - base)^(w/30) + uplift, 0, 1)`` of taking up
  the offer within the case's attribution window of ``w`` days, where
  ``uplift`` is 0 for the control group and, for treatment, the sum of the
  uplifts of the offer's tools' incentive types (the offer book's nine tools
  map one to one onto the truth's nine types; co-branding is ``leverage`` in
  the book and ``co_brand`` in the truth: ``domain.TOOL_INCENTIVE``);
* the response, if any, comes between one hour and ``w`` days after the
  anchor, as an ``offer_accepted`` event of the exposed offer whose revenue is
  the offer's incremental monthly revenue.

Draws are keyed hashes of (seed, case, subscriber) (``domain.uniforms``), so
the same seed gives the same responses whatever else is drawn, and the event id
``sim-<seed>-c<case>-s<subscriber>`` is the same on every run: running again —
later, with a later ``--until``, after more contacts went out — stores only the
responses not stored before (source ``demo-simulation``) and attributes them
like any import. Only responses on or before ``until`` (a province-local day,
today by default) are written, so a demo run day after day shows a case's
funnel filling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
from ibis.backends import BaseBackend
from sqlalchemy import and_, select

from telmark.cases.models import Case
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import InvalidInput
from telmark.execution.domain import PROVINCE_TZ
from telmark.execution.responses import attribution, domain, service
from telmark.execution.responses.models import ResponseEvent, ResponseExposure
from telmark.execution.responses.schemas import EventIn, SimulationRead
from telmark.offers.models import Offer, OfferVersion
from telmark.targeting.domain import Group
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table
from telmark.warehouse.contract import OFFER_TYPES
from telmark.warehouse.scope import ScopedWarehouse

SOURCE = "demo-simulation"
DEFAULT_SEED = 20_260_101
TRUTH = "truth_response"
MIN_DELAY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class _Anchor:
    case_id: int
    subscriber_id: int
    treated: bool
    offer_code: str
    exposed_at: datetime


@dataclass(frozen=True, slots=True)
class _OfferTerms:
    incentives: tuple[str, ...]
    revenue_fen: int


def _anchors(uow: UnitOfWork, case_id: int | None) -> list[_Anchor]:
    """Per (case, subscriber) with an offer: its first treatment exposure, else first control."""
    x = ResponseExposure
    stmt = select(x.case_id, x.subscriber_id, x.group, x.offer_code, x.exposed_at).where(
        x.offer_code.is_not(None)
    )
    if case_id is not None:
        stmt = stmt.where(x.case_id == case_id)
    first: dict[tuple[int, int], _Anchor] = {}
    for case, subscriber, group, offer, at in uow.session.execute(stmt):
        treated = group == Group.TREATMENT.value
        current = first.get((case, subscriber))
        if current is None or (treated, -at.timestamp()) > (
            current.treated,
            -current.exposed_at.timestamp(),
        ):
            first[(case, subscriber)] = _Anchor(case, subscriber, treated, str(offer), at)
    return [first[k] for k in sorted(first)]


def _offer_terms(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, _OfferTerms]:
    rows = uow.session.execute(
        select(Offer.code, OfferVersion.tools, OfferVersion.incremental_monthly_revenue_fen)
        .join(
            OfferVersion,
            and_(OfferVersion.offer_id == Offer.id, OfferVersion.version == Offer.current_version),
        )
        .where(Offer.code.in_(sorted(set(codes))))
    )
    return {
        str(code): _OfferTerms(domain.incentive_types(tools or []), int(revenue))
        for code, tools, revenue in rows
    }


def _windows(uow: UnitOfWork, case_ids: Sequence[int]) -> dict[int, int]:
    default = get_settings().response_attribution_days
    found = dict(
        uow.session.execute(
            select(Case.id, Case.attribution_days).where(Case.id.in_(case_ids))
        ).all()
    )
    return {c: found.get(c) or default for c in case_ids}


def _truth(con: BaseBackend, subscriber_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """The hidden response model's row of each subscriber (base and the nine uplifts)."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return {}
    truth = con.table(TRUTH)
    wanted = ibis.memtable({"_sid": np.asarray(ids, dtype=np.int64)})
    columns = ["subscriber_id", "base_propensity", *(f"uplift_{t}" for t in OFFER_TYPES)]
    joined = truth.join(wanted, truth.subscriber_id == wanted._sid).select(*columns)
    rows = joined.to_pyarrow().to_pylist()
    return {int(r["subscriber_id"]): r for r in rows}


def _drawn(
    anchors: Sequence[_Anchor],
    *,
    seed: int,
    truth: Mapping[int, Mapping[str, float]],
    terms: Mapping[str, _OfferTerms],
    windows: Mapping[int, int],
) -> list[tuple[_Anchor, datetime]]:
    """The responses the model gives (anchor, time), whatever the day; per case, vectorised."""
    responses: list[tuple[_Anchor, datetime]] = []
    by_case: dict[int, list[_Anchor]] = {}
    for anchor in anchors:
        if anchor.subscriber_id in truth:
            by_case.setdefault(anchor.case_id, []).append(anchor)
    for case_id, rows in sorted(by_case.items()):
        days = windows[case_id]
        ids = np.asarray([a.subscriber_id for a in rows], dtype=np.int64)
        base = np.asarray([truth[a.subscriber_id]["base_propensity"] for a in rows])
        uplift = np.asarray(
            [
                sum(
                    float(truth[a.subscriber_id][f"uplift_{kind}"])
                    for kind in (terms[a.offer_code].incentives if a.offer_code in terms else ())
                )
                if a.treated
                else 0.0
                for a in rows
            ]
        )
        chance = domain.response_probability(base, uplift, days)
        respond = domain.uniforms(seed, case_id, ids, "respond") < chance
        when = domain.uniforms(seed, case_id, ids, "when")
        span = timedelta(days=days) - MIN_DELAY
        for anchor, yes, share in zip(rows, respond.tolist(), when.tolist(), strict=True):
            if yes:
                responses.append((anchor, anchor.exposed_at + MIN_DELAY + span * float(share)))
    return responses


def _stored(uow: UnitOfWork, event_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    ids = sorted(event_ids)
    for start in range(0, len(ids), 1000):
        found.update(
            uow.session.scalars(
                select(ResponseEvent.event_id).where(
                    ResponseEvent.event_id.in_(ids[start : start + 1000])
                )
            )
        )
    return found


def simulate(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    case_id: int | None = None,
    until: date | None = None,
    seed: int = DEFAULT_SEED,
    directory: Path | None = None,
    now: datetime | None = None,
) -> SimulationRead:
    """Draw the hidden model's responses to the cases' exposures up to ``until`` (module doc)."""
    service.check_province(uow, "simulates them")
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    if not has_table(backend, TRUTH):
        raise InvalidInput(
            "the warehouse has no truth_response table: simulated responses need the synthetic "
            "province's hidden response model, which only generated demo data has; import real "
            "responses with `telmark responses import`",
            details=[{"field": "warehouse", "reason": "no truth_response"}],
        )
    moment = now or utcnow()
    last_day = until or moment.astimezone(PROVINCE_TZ).date()
    attribution.collect_exposures(uow, directory=directory, now=moment)
    anchors = _anchors(uow, case_id)
    terms = _offer_terms(uow, [a.offer_code for a in anchors])
    windows = _windows(uow, sorted({a.case_id for a in anchors}))
    truth = _truth(backend, [a.subscriber_id for a in anchors])
    drawn = [
        (anchor, at)
        for anchor, at in _drawn(anchors, seed=seed, truth=truth, terms=terms, windows=windows)
        if at.astimezone(PROVINCE_TZ).date() <= last_day
    ]
    ids = {domain.simulated_event_id(seed, a.case_id, a.subscriber_id): (a, at) for a, at in drawn}
    known = _stored(uow, list(ids))
    events = [
        EventIn(
            event_id=event_id,
            subscriber_id=anchor.subscriber_id,
            type=domain.ResponseType.OFFER_ACCEPTED,
            offer_code=anchor.offer_code,
            occurred_at=at,
            revenue_fen=terms[anchor.offer_code].revenue_fen if anchor.offer_code in terms else 0,
        )
        for event_id, (anchor, at) in sorted(ids.items())
        if event_id not in known
    ]
    imported = service.ingest(
        uow=uow, events=events, source=SOURCE, directory=directory, now=moment
    )
    uow.commit()  # the exposures collected, also when no response was new
    return SimulationRead(
        seed=seed,
        until=last_day.isoformat(),
        cases=sorted({a.case_id for a in anchors}),
        exposed=sum(1 for a in anchors if a.subscriber_id in truth),
        drawn=len(drawn),
        treatment_drawn=sum(1 for a, _ in drawn if a.treated),
        control_drawn=sum(1 for a, _ in drawn if not a.treated),
        import_read=imported,
    )
