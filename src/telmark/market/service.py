"""Market-input use cases: add, list, delete and import offers and shares; the market view.

Scope (see ``market.domain``): a user reads entries of units within their
scope and of the units above it (so a city user sees the province-wide
offers), and changes entries of units within their scope only. Entries of
units the user may not read answer NotFound, so their existence does not
leak; readable entries the user may not change (province-wide offers, for a
city user) answer Forbidden. Every insert and delete is written to the audit
trail by ``telmark.audit.capture``.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import TypeVar

import ibis
from ibis.backends import BaseBackend
from sqlalchemy import ColumnElement, Select, or_, select

from telmark.analysis import service as analysis_service
from telmark.analysis.schemas import MonthKpis
from telmark.db import utcnow
from telmark.errors import Forbidden, InvalidInput, NotFound, WarehouseEmpty
from telmark.market.domain import (
    OFFER_COLUMNS,
    OFFER_REQUIRED,
    SHARE_COLUMNS,
    SHARE_REQUIRED,
    Competitor,
    MarketInputInvalid,
    OfferSpec,
    OwnPlan,
    ShareSpec,
    check_city_month,
    comparable_plan,
    offer_from_text,
    share_from_text,
    shares_of_month,
)
from telmark.market.models import CompetitorOffer, MarketShare
from telmark.market.schemas import (
    ImportReport,
    MarketView,
    OfferBeside,
    OfferCreate,
    OfferRead,
    OwnPlanRead,
    ShareCreate,
    SharePoint,
    ShareRead,
    ShareSeries,
)
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.org.scope import visible
from telmark.uow import UnitOfWork
from telmark.warehouse.importer.report import Problem as RowProblem

MAX_PROBLEMS = 200
OWN = "own"

_Entry = TypeVar("_Entry", CompetitorOffer, MarketShare)
_Spec = TypeVar("_Spec", OfferSpec, ShareSpec)


# --- scope -----------------------------------------------------------------------------------


def _ancestor_paths(scope_path: str) -> list[str]:
    codes = scope_path.strip("/").split("/")
    return ["/" + "/".join(codes[: i + 1]) + "/" for i in range(len(codes))]


def _readable(uow: UnitOfWork) -> ColumnElement[bool]:
    """SQL condition on OrgUnit: within the actor's scope, or above it."""
    scope = uow.actor.scope_path
    if scope is None:
        return visible(uow, OrgUnit.path)
    return or_(visible(uow, OrgUnit.path), OrgUnit.path.in_(_ancestor_paths(scope)))


def _province(uow: UnitOfWork) -> OrgUnit:
    unit = uow.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))
    if unit is None:
        raise InvalidInput("the org tree is empty: run `telmark org sync` first")
    return unit


def _writable_unit(uow: UnitOfWork, code: str, kinds: tuple[OrgKind, ...]) -> OrgUnit:
    """The unit ``code`` if the actor may change its entries (NotFound if out of scope)."""
    stmt = select(OrgUnit).where(OrgUnit.code == code)
    unit = uow.session.scalar(stmt.where(visible(uow, OrgUnit.path)))
    if unit is None:
        readable = uow.session.scalar(stmt.where(_readable(uow)))
        if readable is None:
            raise NotFound(f"org unit {code} not found")
        raise Forbidden(f"{code} is above your org unit: its market inputs are changed there")
    if unit.kind not in kinds:
        allowed = " or ".join(kinds)
        raise InvalidInput(
            f"org_code: {code} is a {unit.kind}; market inputs belong to a {allowed}",
            details=[{"field": "org_code", "value": code}],
        )
    return unit


def readable_city(*, uow: UnitOfWork, code: str) -> OrgUnit:
    """The city ``code`` if the actor may read its market inputs; NotFound otherwise."""
    unit = uow.session.scalar(
        select(OrgUnit).where(OrgUnit.code == code, OrgUnit.kind == OrgKind.CITY, _readable(uow))
    )
    if unit is None:
        raise NotFound(f"city {code} not found")
    return unit


def readable_cities(*, uow: UnitOfWork) -> list[OrgUnit]:
    """Cities whose market inputs the actor may read, in code order."""
    stmt = select(OrgUnit).where(OrgUnit.kind == OrgKind.CITY, _readable(uow))
    return list(uow.session.scalars(stmt.order_by(OrgUnit.code)))


def default_city(*, uow: UnitOfWork) -> str | None:
    """The city of the actor's scope (a city user's own), else the first readable city."""
    scope = uow.actor.scope_path
    cities = readable_cities(uow=uow)
    if scope is not None:
        for city in cities:
            if scope.startswith(city.path):
                return city.code
    return cities[0].code if cities else None


def _readable_entries(uow: UnitOfWork, model: type[_Entry]) -> Select[_Entry]:
    """Entries of ``model`` whose unit the actor may read."""
    return select(model).join(OrgUnit, OrgUnit.code == model.org_code).where(_readable(uow))


def _readable_entry(uow: UnitOfWork, model: type[_Entry], entry_id: int, label: str) -> _Entry:
    row = uow.session.scalar(_readable_entries(uow, model).where(model.id == entry_id))
    if row is None:
        raise NotFound(f"{label} {entry_id} not found")
    return row


def _delete_entry(uow: UnitOfWork, row: _Entry, kinds: tuple[OrgKind, ...]) -> None:
    """Delete an entry of a unit within the actor's scope; the audit trail keeps its values."""
    _writable_unit(uow, row.org_code, kinds)
    uow.session.delete(row)
    uow.commit()


def _lock_city(uow: UnitOfWork, code: str) -> None:
    # Serialises share changes of one city, so two concurrent adds cannot both pass
    # the 100% check (SQLite serialises writers anyway; FOR UPDATE is ignored there).
    uow.session.execute(select(OrgUnit.id).where(OrgUnit.code == code).with_for_update())


# --- offers ----------------------------------------------------------------------------------


def _offer_read(row: CompetitorOffer, province_code: str) -> OfferRead:
    return OfferRead(
        id=row.id,
        org_code=row.org_code,
        province_wide=row.org_code == province_code,
        competitor=row.competitor,
        name=row.name,
        monthly_fee_fen=row.monthly_fee_fen,
        data_mb=row.data_mb,
        voice_min=row.voice_min,
        is_5g=row.is_5g,
        launched_on=row.launched_on,
        withdrawn_on=row.withdrawn_on,
        notes=row.notes,
        source=row.source,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _offer_spec(offer: OfferCreate, province_code: str) -> OfferSpec:
    values = offer.model_dump(mode="json", exclude_none=True)
    text = {k: ("1" if v is True else "0" if v is False else str(v)) for k, v in values.items()}
    return offer_from_text(text, province_code=province_code)


def _new_entry(model: type[_Entry], spec: OfferSpec | ShareSpec, created_by: str) -> _Entry:
    """A new row of ``model`` holding ``spec`` (its fields are the table's columns)."""
    return model(**asdict(spec), created_at=utcnow(), created_by=created_by)


_OFFER_KINDS = (OrgKind.CITY, OrgKind.PROVINCE)


def add_offer(*, uow: UnitOfWork, offer: OfferCreate) -> OfferRead:
    """Record a competitor offer of a city (or province-wide) within the actor's scope."""
    province = _province(uow)
    spec = _offer_spec(offer, province.code)
    _writable_unit(uow, spec.org_code, _OFFER_KINDS)
    row = _new_entry(CompetitorOffer, spec, uow.actor.username)
    uow.session.add(row)
    uow.commit()
    return _offer_read(row, province.code)


def list_offers(
    *,
    uow: UnitOfWork,
    city: str | None = None,
    competitor: Competitor | None = None,
    on_sale: date | None = None,
) -> list[OfferRead]:
    """Offers the actor may read, cheapest first; ``city``: that city's and province-wide."""
    province = _province(uow)
    stmt = _readable_entries(uow, CompetitorOffer)
    if city:
        readable_city(uow=uow, code=city)
        stmt = stmt.where(CompetitorOffer.org_code.in_([city, province.code]))
    if competitor:
        stmt = stmt.where(CompetitorOffer.competitor == competitor)
    if on_sale:
        stmt = stmt.where(
            CompetitorOffer.launched_on <= on_sale,
            or_(CompetitorOffer.withdrawn_on.is_(None), CompetitorOffer.withdrawn_on > on_sale),
        )
    stmt = stmt.order_by(CompetitorOffer.monthly_fee_fen, CompetitorOffer.id)
    return [_offer_read(row, province.code) for row in uow.session.scalars(stmt)]


def get_offer(*, uow: UnitOfWork, offer_id: int) -> OfferRead:
    """One offer the actor may read (NotFound otherwise)."""
    return _offer_read(
        _readable_entry(uow, CompetitorOffer, offer_id, "offer"), _province(uow).code
    )


def delete_offer(*, uow: UnitOfWork, offer_id: int) -> OfferRead:
    """Delete an offer of a unit within the actor's scope; the audit trail keeps its values."""
    row = _readable_entry(uow, CompetitorOffer, offer_id, "offer")
    shown = _offer_read(row, _province(uow).code)
    _delete_entry(uow, row, _OFFER_KINDS)
    return shown


# --- shares ----------------------------------------------------------------------------------


def _share_read(row: MarketShare) -> ShareRead:
    return ShareRead.model_validate(row, from_attributes=True)


def _spec_of(row: MarketShare) -> ShareSpec:
    return ShareSpec(
        org_code=row.org_code,
        month=row.month,
        competitor=row.competitor,
        share_bp=row.share_bp,
        subscribers=row.subscribers,
    )


def _share_spec(share: ShareCreate) -> ShareSpec:
    values = share.model_dump(mode="json", exclude_none=True)
    values["month"] = values["month"][:7]
    return share_from_text({k: str(v) for k, v in values.items()})


def _existing_shares(uow: UnitOfWork, org_code: str, month: date) -> list[MarketShare]:
    stmt = select(MarketShare).where(MarketShare.org_code == org_code, MarketShare.month == month)
    return list(uow.session.scalars(stmt))


def _check_new_shares(uow: UnitOfWork, specs: Sequence[ShareSpec]) -> None:
    """Refuse duplicates and city-months that break ``check_city_month`` with ``specs`` added."""
    by_month: dict[tuple[str, date], list[ShareSpec]] = defaultdict(list)
    for spec in specs:
        by_month[(spec.org_code, spec.month)].append(spec)
    for (org_code, month), new in sorted(by_month.items()):
        _lock_city(uow, org_code)
        existing = [_spec_of(r) for r in _existing_shares(uow, org_code, month)]
        taken = {s.competitor for s in existing}
        for spec in new:
            if spec.competitor in taken:
                raise InvalidInput(
                    f"{org_code} {month:%Y-%m}: {spec.competitor} already has an entry; "
                    "delete it first to replace it",
                    details=[{"field": "competitor", "value": spec.competitor}],
                )
            taken.add(spec.competitor)
        check_city_month([*existing, *new])


def add_share(*, uow: UnitOfWork, share: ShareCreate) -> ShareRead:
    """Record one competitor's share (or subscriber estimate) of a city in a month."""
    spec = _share_spec(share)
    _writable_unit(uow, spec.org_code, (OrgKind.CITY,))
    _check_new_shares(uow, [spec])
    row = _new_entry(MarketShare, spec, uow.actor.username)
    uow.session.add(row)
    uow.commit()
    return _share_read(row)


def list_shares(
    *,
    uow: UnitOfWork,
    city: str | None = None,
    month_from: date | None = None,
    month_to: date | None = None,
) -> list[ShareRead]:
    """Share entries the actor may read, by city, month and competitor."""
    stmt = _readable_entries(uow, MarketShare)
    if city:
        readable_city(uow=uow, code=city)
        stmt = stmt.where(MarketShare.org_code == city)
    if month_from:
        stmt = stmt.where(MarketShare.month >= month_from.replace(day=1))
    if month_to:
        stmt = stmt.where(MarketShare.month <= month_to)
    stmt = stmt.order_by(MarketShare.org_code, MarketShare.month, MarketShare.competitor)
    return [_share_read(row) for row in uow.session.scalars(stmt)]


def get_share(*, uow: UnitOfWork, share_id: int) -> ShareRead:
    """One share entry the actor may read (NotFound otherwise)."""
    return _share_read(_readable_entry(uow, MarketShare, share_id, "share entry"))


def delete_share(*, uow: UnitOfWork, share_id: int) -> ShareRead:
    """Delete a share entry of a city within the actor's scope (audited)."""
    row = _readable_entry(uow, MarketShare, share_id, "share entry")
    shown = _share_read(row)
    _delete_entry(uow, row, (OrgKind.CITY,))
    return shown


# --- imports ---------------------------------------------------------------------------------


class MarketFileRejected(InvalidInput):
    """An import file failed validation; nothing was imported."""

    def __init__(self, file: str, problems: list[RowProblem], total: int) -> None:
        first = problems[0]
        where = ", ".join(
            p
            for p in (
                f"row {first.row}" if first.row is not None else "",
                f"column {first.column}" if first.column else "",
            )
            if p
        )
        super().__init__(
            f"{file}: rejected with {total} problem(s), first: "
            f"{where + ': ' if where else ''}{first.reason}; nothing was imported",
            details=[p.as_dict() for p in problems],
        )
        self.problems = problems
        self.total = total


def _decode(data: bytes, *, file: str, encoding: str) -> tuple[str, str]:
    """The file's text and encoding, by the warehouse importer's rule (BOM, UTF-8, GB18030)."""
    from telmark.warehouse.importer.csv_staging import UTF8_BOM, resolve_encoding

    if encoding != "auto":
        candidates = [resolve_encoding(encoding)]
    elif data.startswith(UTF8_BOM):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    failure: UnicodeDecodeError | None = None
    for name in candidates:
        try:
            return data.decode(name), codecs.lookup(name).name
        except UnicodeDecodeError as error:
            failure = error
    assert failure is not None
    line = data.count(b"\n", 0, failure.start) + 1
    reason = f"bytes not valid in {candidates[-1]}; give the encoding (utf-8, gbk or gb18030)"
    raise MarketFileRejected(file, [RowProblem(file, line, None, None, reason)], 1) from failure


def _rows(
    data: bytes,
    *,
    file: str,
    encoding: str,
    columns: Sequence[str],
    required: Sequence[str],
) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    text, used = _decode(data, file=file, encoding=encoding)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise MarketFileRejected(file, [RowProblem(file, None, None, None, "the file is empty")], 1)
    problems: list[RowProblem] = []
    for name in header:
        if name not in columns:
            reason = f"unknown column; expected {', '.join(columns)}"
            problems.append(RowProblem(file, "header", name, None, reason))
    if len(set(header)) != len(header):
        problems.append(RowProblem(file, "header", None, None, "a column appears twice"))
    problems += [
        RowProblem(file, "header", name, None, "required column is missing")
        for name in required
        if name not in header
    ]
    if problems:
        raise MarketFileRejected(file, problems, len(problems))
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            reason = f"has {len(values)} fields, the header has {len(header)}"
            problems.append(RowProblem(file, number, None, ",".join(values)[:200], reason))
            continue
        rows.append((number, dict(zip(header, values, strict=True))))
    if problems:
        raise MarketFileRejected(file, problems[:MAX_PROBLEMS], len(problems))
    return used, rows


def _reject(file: str, problems: list[RowProblem]) -> None:
    if problems:
        raise MarketFileRejected(file, problems[:MAX_PROBLEMS], len(problems))


def _scope_problem(
    uow: UnitOfWork, file: str, number: int, code: str, kinds: tuple[OrgKind, ...]
) -> RowProblem | None:
    try:
        _writable_unit(uow, code, kinds)
    except (NotFound, Forbidden):
        reason = "not a unit whose market inputs you may change"
        return RowProblem(file, number, "org_code", code, reason)
    except InvalidInput as error:
        return RowProblem(file, number, "org_code", code, error.message.split(": ", 1)[-1])
    return None


def _checked_rows(
    uow: UnitOfWork,
    file: str,
    rows: Sequence[tuple[int, dict[str, str]]],
    *,
    parse: Callable[[dict[str, str]], _Spec],
    kinds: tuple[OrgKind, ...],
    check: Callable[[int, _Spec], RowProblem | None] = lambda _number, _spec: None,
) -> list[tuple[int, _Spec]]:
    """Each row parsed, its unit checked against the scope, then ``check``; all or none."""
    problems: list[RowProblem] = []
    specs: list[tuple[int, _Spec]] = []
    checked: dict[str, RowProblem | None] = {}
    for number, values in rows:
        try:
            spec = parse(values)
        except MarketInputInvalid as invalid:
            problems += [
                RowProblem(file, number, p.column, p.value, p.reason) for p in invalid.problems
            ]
            continue
        if spec.org_code not in checked:
            checked[spec.org_code] = _scope_problem(uow, file, number, spec.org_code, kinds)
        scope = checked[spec.org_code]
        problem = check(number, spec) if scope is None else replace(scope, row=number)
        if problem is not None:
            problems.append(problem)
            continue
        specs.append((number, spec))
    _reject(file, problems)
    return specs


def _imported(
    uow: UnitOfWork,
    rows: Sequence[CompetitorOffer | MarketShare],
    *,
    file: str,
    encoding: str,
    total: int,
) -> ImportReport:
    """Add the checked rows and commit."""
    uow.session.add_all(rows)
    uow.commit()
    return ImportReport(file_name=file, encoding=encoding, rows=total, added=len(rows))


def import_offers(
    *, uow: UnitOfWork, data: bytes, file_name: str, encoding: str = "auto"
) -> ImportReport:
    """Import an offers CSV: every row checked first (file, row, column named); all or none."""
    province = _province(uow).code
    used, rows = _rows(
        data, file=file_name, encoding=encoding, columns=OFFER_COLUMNS, required=OFFER_REQUIRED
    )
    specs = _checked_rows(
        uow, file_name, rows,
        parse=lambda values: offer_from_text(values, province_code=province), kinds=_OFFER_KINDS,
    )  # fmt: skip
    added = [_new_entry(CompetitorOffer, spec, uow.actor.username) for _, spec in specs]
    return _imported(uow, added, file=file_name, encoding=used, total=len(rows))


def import_shares(
    *, uow: UnitOfWork, data: bytes, file_name: str, encoding: str = "auto"
) -> ImportReport:
    """Import a shares CSV: rows checked, then every city-month's 100% rule; all or none."""
    used, rows = _rows(
        data, file=file_name, encoding=encoding, columns=SHARE_COLUMNS, required=SHARE_REQUIRED
    )
    seen: dict[tuple[str, date, Competitor], int] = {}

    def once(number: int, spec: ShareSpec) -> RowProblem | None:
        if spec.key in seen:
            reason = f"the same city, month and competitor as row {seen[spec.key]}"
            return RowProblem(file_name, number, "competitor", spec.competitor, reason)
        seen[spec.key] = number
        return None

    specs = _checked_rows(
        uow, file_name, rows, parse=share_from_text, kinds=(OrgKind.CITY,), check=once
    )
    problems: list[RowProblem] = []
    by_month: dict[tuple[str, date], list[tuple[int, ShareSpec]]] = defaultdict(list)
    for number, spec in specs:
        by_month[(spec.org_code, spec.month)].append((number, spec))
    for group in by_month.values():
        try:
            _check_new_shares(uow, [spec for _, spec in group])
        except InvalidInput as error:
            rows_of = ", ".join(str(n) for n, _ in group)
            problems.append(
                RowProblem(file_name, group[0][0], "share_bp", None, f"{error.message} "
                           f"(rows {rows_of})")
            )  # fmt: skip
    _reject(file_name, problems)
    added = [_new_entry(MarketShare, spec, uow.actor.username) for _, spec in specs]
    return _imported(uow, added, file=file_name, encoding=used, total=len(rows))


# --- the market view -------------------------------------------------------------------------


def own_plans(*, con: BaseBackend, as_of: date) -> list[OwnPlan]:
    """Our plans on sale on ``as_of`` (warehouse ``products`` of kind plan), cheapest first."""
    products = con.table("products")
    on_sale = products.filter(
        products.kind == "plan",
        products.launch_date <= ibis.date(as_of),
        products.retire_date.isnull() | (products.retire_date > ibis.date(as_of)),
    ).order_by(["monthly_fee_fen", "product_id"])
    return [
        OwnPlan(
            product_id=r["product_id"],
            name=r["name"],
            family=r["family"],
            monthly_fee_fen=int(r["monthly_fee_fen"]),
            data_mb=int(r["data_mb"]),
            voice_min=int(r["voice_min"]),
            is_5g=bool(r["is_5g"]),
        )
        for r in on_sale.to_pyarrow().to_pylist()
    ]


def _plan_read(plan: OwnPlan) -> OwnPlanRead:
    return OwnPlanRead.model_validate(plan, from_attributes=True)


def share_series(
    entries: Sequence[ShareRead], own_subscribers: dict[date, int]
) -> tuple[list[date], list[ShareSeries], dict[date, int]]:
    """Months, per-competitor series (and 'own' where computable) and market sizes."""
    by_month: dict[date, list[ShareSpec]] = defaultdict(list)
    counts: dict[tuple[date, str], int | None] = {}
    for e in entries:
        spec = ShareSpec(e.org_code, e.month, e.competitor, e.share_bp, e.subscribers)
        by_month[e.month].append(spec)
        counts[(e.month, e.competitor)] = e.subscribers
    months = sorted(by_month)
    shown = {m: shares_of_month(m, by_month[m], own_subscribers.get(m)) for m in months}
    names = [c.value for c in Competitor if any(c in s.by_competitor for s in shown.values())]
    series = [
        ShareSeries(
            competitor=name,
            points=[
                SharePoint(
                    month=m,
                    share_bp=shown[m].by_competitor.get(Competitor(name)),
                    subscribers=counts.get((m, name)),
                )
                for m in months
            ],
        )
        for name in names
    ]
    if any(s.own_bp is not None for s in shown.values()):
        series.append(
            ShareSeries(
                competitor=OWN,
                points=[
                    SharePoint(
                        month=m, share_bp=shown[m].own_bp, subscribers=own_subscribers.get(m)
                    )
                    for m in months
                ],
            )
        )
    sizes = {m: s.market_size for m, s in shown.items() if s.market_size is not None}
    return months, series, sizes


def city_kpis(*, con: BaseBackend, city: str) -> list[MonthKpis]:
    """The city's overview KPIs per month (WarehouseEmpty when nothing is loaded)."""
    overview = analysis_service.province_overview(con=con)
    for entry in overview.cities:
        if entry.city_id == city:
            return list(entry.months)
    return []


def offers_beside(
    *, uow: UnitOfWork, city: str, plans: Sequence[OwnPlan], as_of: date
) -> list[OfferBeside]:
    """Offers on sale in ``city`` on ``as_of``, each beside our nearest plan of ``plans``."""
    beside = []
    for offer in list_offers(uow=uow, city=city, on_sale=as_of):
        spec = OfferSpec(
            org_code=offer.org_code,
            competitor=offer.competitor,
            name=offer.name,
            monthly_fee_fen=offer.monthly_fee_fen,
            data_mb=offer.data_mb,
            voice_min=offer.voice_min,
            is_5g=offer.is_5g,
            launched_on=offer.launched_on,
        )
        nearest = comparable_plan(spec, plans)
        beside.append(
            OfferBeside(
                offer=offer,
                comparable=None if nearest is None else _plan_read(nearest),
                fee_difference_fen=(
                    None if nearest is None else offer.monthly_fee_fen - nearest.monthly_fee_fen
                ),
            )
        )
    return beside


def market_view(
    *, uow: UnitOfWork, con: BaseBackend, city: str, as_of: date | None = None
) -> MarketView:
    """Share trend, offers on sale beside our nearest plans, and own KPIs of one city."""
    unit = readable_city(uow=uow, code=city)
    day = as_of or utcnow().date()
    problem: str | None = None
    kpis: list[MonthKpis] = []
    plans: list[OwnPlan] = []
    try:
        kpis = city_kpis(con=con, city=city)
        if "products" in con.list_tables():
            plans = own_plans(con=con, as_of=day)
    except WarehouseEmpty as empty:
        problem = empty.message
    own = {k.month: k.subscribers for k in kpis}
    months, series, sizes = share_series(list_shares(uow=uow, city=city), own)
    beside = offers_beside(uow=uow, city=city, plans=plans, as_of=day)
    return MarketView(
        city_code=unit.code,
        city_name=unit.name,
        city_name_en=unit.name_en,
        months=months,
        shares=series,
        market_size=sizes,
        offers=beside,
        own_plans=[_plan_read(p) for p in plans],
        own_kpis=kpis,
        as_of=day,
        warehouse_problem=problem,
    )
