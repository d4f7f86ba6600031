"""Offer use cases: the offer book, activation with pools, redemption, draws, replay.

The offer book is province-wide (one truth for every city's cases), so
changes are made at the province (Forbidden below it); anyone with read rights
reads it. An offer is created as a draft, edited only as a draft (each edit
appends a version), activated (its stock and budget pools are created from
the current version's tools) and retired.

Redemption is where concurrency matters. Stock and budget are taken with a
conditional ``UPDATE offer_pool SET remaining = remaining - n WHERE id = :id
AND remaining >= n`` whose row count says whether it succeeded — never a read
followed by a write — inside the caller's transaction. On PostgreSQL a second
taker of the same pool waits for the first's row lock and then re-checks the
condition against the committed row, so the last unit goes to exactly one of
them; the CHECK ``remaining >= 0`` is the database's own backstop. A gift or
red-packet shortage refuses the redemption (nothing is written); a lottery
prize shortage turns the draw into no prize, and a referrer over their cap
earns nothing for the referral (the taker still redeems). Pools of one offer are always
taken in the same order (the required pools by id, then the prize pools by
id), so two takers cannot deadlock on them.

Idempotency: the key is unique. A retried request finds the redemption its
key made and returns it; two simultaneous requests with one key collide on
the unique index, and the loser returns the winner's redemption. A subscriber
holds an offer once at a time (unique offer, subscriber, holding).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from ibis.backends import BaseBackend
from pydantic import TypeAdapter
from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError

from telmark.catalog import service as catalog_service
from telmark.catalog.domain import ProductStatus
from telmark.db import utcnow
from telmark.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from telmark.offers import domain
from telmark.offers.domain import (
    EntryKind,
    OfferStatus,
    PoolKind,
    RedemptionStatus,
    pick_prize,
    pool_specs,
    prize_takes,
    referrer_key,
    required_takes,
)
from telmark.offers.eligibility import domain as eligibility_rules
from telmark.offers.models import Draw, Offer, OfferPool, OfferVersion, PoolEntry, Redemption
from telmark.offers.schemas import (
    DrawRead,
    EconomicsRead,
    EntryRead,
    OfferCreate,
    OfferEconomicsIn,
    OfferRead,
    PoolRead,
    RedemptionRead,
    ReplayRead,
    ToolCost,
)
from telmark.offers.tools import NO_PRIZE, AnyTool, Lottery, Referral, Tool, tool_json
from telmark.org.domain import is_root_path
from telmark.org.models import OrgUnit
from telmark.org.scope import visible
from telmark.segments.rules import InvalidRule, parse_rule
from telmark.uow import UnitOfWork
from telmark.warehouse.contract import PROVINCE_TZ

_TOOLS: TypeAdapter[list[AnyTool]] = TypeAdapter(list[Tool])
MAX_KEY = 100


def province_today() -> date:
    """Today in the province's time zone (offers are valid from and to local days)."""
    return utcnow().astimezone(PROVINCE_TZ).date()


def _require_province(uow: UnitOfWork) -> None:
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("the offer book is province-wide: offers are changed at the province")


# --- reading ---------------------------------------------------------------------------


def _offer(uow: UnitOfWork, code: str) -> Offer:
    offer = uow.session.scalar(select(Offer).where(Offer.code == code))
    if offer is None:
        raise NotFound(f"offer {code} not found", details=[{"field": "code", "value": code}])
    return offer


def _version(uow: UnitOfWork, offer: Offer, version: int | None = None) -> OfferVersion:
    wanted = offer.current_version if version is None else version
    row = uow.session.scalar(
        select(OfferVersion).where(
            OfferVersion.offer_id == offer.id, OfferVersion.version == wanted
        )
    )
    if row is None:
        raise NotFound(f"offer {offer.code} has no version {wanted}")
    return row


def tools_of(version: OfferVersion) -> list[AnyTool]:
    """The validated tools of a stored version."""
    return _TOOLS.validate_python(version.tools)


def _economics(tools: Sequence[AnyTool], inputs: OfferEconomicsIn) -> EconomicsRead:
    result = domain.economics(
        tools,
        incremental_monthly_revenue_fen=inputs.incremental_monthly_revenue_fen,
        channel_cost_share_bp=inputs.channel_cost_share_bp,
        co_funding_bp=inputs.co_funding_bp,
    )
    return EconomicsRead(
        incentive_cost_fen=result.incentive_cost_fen,
        partner_funded_fen=result.partner_funded_fen,
        net_incentive_cost_fen=result.net_incentive_cost_fen,
        incremental_monthly_revenue_fen=result.incremental_monthly_revenue_fen,
        channel_cost_fen_per_month=result.channel_cost_fen_per_month,
        net_monthly_contribution_fen=result.net_monthly_contribution_fen,
        payback_months=result.payback_months,
    )


def economics_of(spec: OfferCreate) -> EconomicsRead:
    """Unit economics of an offer document, before it is saved (a preview)."""
    return _economics(spec.tools, spec.economics)


def _read(uow: UnitOfWork, offer: Offer) -> OfferRead:
    version = _version(uow, offer)
    tools = tools_of(version)
    inputs = OfferEconomicsIn(
        incremental_monthly_revenue_fen=version.incremental_monthly_revenue_fen,
        channel_cost_share_bp=version.channel_cost_share_bp,
        co_funding_bp=version.co_funding_bp,
    )
    return OfferRead(
        code=offer.code,
        status=offer.status,
        version=version.version,
        name=version.name,
        description=version.description,
        action=version.action,
        product_codes=list(version.product_codes),
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        eligibility=version.eligibility,
        excludes=list(version.excludes),
        tools=list(version.tools),
        tool_costs=[ToolCost(tool=t.tool, expected_cost_fen=t.expected_cost_fen()) for t in tools],
        economics_in=inputs,
        economics=_economics(tools, inputs),
        created_by=offer.created_by,
        created_at=offer.created_at,
        updated_at=offer.updated_at,
    )


def list_offers(*, uow: UnitOfWork, status: OfferStatus | None = None) -> list[OfferRead]:
    """The offer book (optionally of one status), by code."""
    stmt = select(Offer).order_by(Offer.code)
    if status is not None:
        stmt = stmt.where(Offer.status == status)
    return [_read(uow, o) for o in uow.session.scalars(stmt)]


def get_offer(*, uow: UnitOfWork, code: str) -> OfferRead:
    """One offer with its current terms and economics."""
    return _read(uow, _offer(uow, code))


def offer_economics(*, uow: UnitOfWork, code: str) -> EconomicsRead:
    """The per-taker unit economics of an offer's current terms."""
    return _read(uow, _offer(uow, code)).economics


# --- changing the book -----------------------------------------------------------------


def _check_products(uow: UnitOfWork, spec: OfferCreate) -> None:
    """Target products and bundle components exist in the catalog and are on sale."""
    problems: list[dict[str, object]] = []
    named: list[tuple[str, str]] = [
        (f"product_codes[{i}]", c) for i, c in enumerate(spec.product_codes)
    ]
    for t_index, tool in enumerate(spec.tools):
        if tool.tool == "bundle":
            named.extend(
                (f"tools[{t_index}].components[{i}]", c) for i, c in enumerate(tool.components)
            )
    for field, code in named:
        try:
            product = catalog_service.get_product(uow=uow, code=code)
        except NotFound:
            problems.append({"field": field, "message": f"no product {code} in the catalog"})
            continue
        if product.status is not ProductStatus.ON_SALE:
            problems.append({"field": field, "message": f"product {code} is {product.status}"})
    if problems:
        first = problems[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", details=problems)


def _check_excludes(uow: UnitOfWork, spec: OfferCreate) -> None:
    if not spec.excludes:
        return
    known = set(uow.session.scalars(select(Offer.code).where(Offer.code.in_(spec.excludes))))
    problems: list[dict[str, object]] = [
        {"field": f"excludes[{i}]", "message": f"no offer {code}"}
        for i, code in enumerate(spec.excludes)
        if code not in known
    ]
    if problems:
        raise InvalidInput(f"{problems[0]['field']}: {problems[0]['message']}", details=problems)


def _eligibility(spec: OfferCreate) -> dict[str, Any] | None:
    if spec.eligibility is None:
        return None
    try:
        rule = parse_rule(spec.eligibility)
    except InvalidRule as error:
        details: list[dict[str, object]] = [
            {"field": f"eligibility.{d['path']}", "message": d["message"]} for d in error.details
        ]
        raise InvalidInput(
            f"{details[0]['field']}: {details[0]['message']}", details=details
        ) from None
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True)


def _new_version(
    uow: UnitOfWork, offer: Offer, version: int, spec: OfferCreate, note: str
) -> OfferVersion:
    row = OfferVersion(
        offer_id=offer.id,
        version=version,
        name=" ".join(spec.name.split()),
        description=spec.description.strip(),
        action=spec.action,
        product_codes=list(spec.product_codes),
        valid_from=spec.valid_from,
        valid_to=spec.valid_to,
        eligibility=_eligibility(spec),
        excludes=list(spec.excludes),
        tools=[tool_json(t) for t in spec.tools],
        incremental_monthly_revenue_fen=spec.economics.incremental_monthly_revenue_fen,
        channel_cost_share_bp=spec.economics.channel_cost_share_bp,
        co_funding_bp=spec.economics.co_funding_bp,
        note=note.strip(),
        created_by=uow.actor.username,
        created_at=utcnow(),
    )
    uow.session.add(row)
    return row


def _validate(uow: UnitOfWork, spec: OfferCreate) -> None:
    _eligibility(spec)
    _check_products(uow, spec)
    _check_excludes(uow, spec)


def create_offer(*, uow: UnitOfWork, spec: OfferCreate, note: str = "") -> OfferRead:
    """Save a new draft offer (version 1), every reference checked first."""
    _require_province(uow)
    if uow.session.scalar(select(Offer.id).where(Offer.code == spec.code)) is not None:
        raise Conflict(f"code: offer {spec.code} already exists", details=[{"field": "code"}])
    _validate(uow, spec)
    now = utcnow()
    offer = Offer(
        code=spec.code,
        status=OfferStatus.DRAFT,
        current_version=1,
        created_by=uow.actor.username,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(offer)
    try:
        uow.session.flush()
    except IntegrityError:  # created by someone else since the check above
        raise Conflict(
            f"code: offer {spec.code} already exists", details=[{"field": "code"}]
        ) from None
    _new_version(uow, offer, 1, spec, note)
    uow.session.flush()
    result = _read(uow, offer)
    uow.commit()
    return result


def update_offer(*, uow: UnitOfWork, code: str, spec: OfferCreate, note: str = "") -> OfferRead:
    """Append the next version of a draft offer (active and retired offers are fixed)."""
    _require_province(uow)
    offer = _offer(uow, code)
    if spec.code != code:
        raise InvalidInput(
            f"code: the document is for {spec.code}, not {code}", details=[{"field": "code"}]
        )
    if offer.status is not OfferStatus.DRAFT:
        raise InvalidTransition(
            f"offer {code} is {offer.status}: only a draft is edited "
            "(retire it and create a new one)"
        )
    _validate(uow, spec)
    offer.current_version += 1
    offer.updated_at = utcnow()
    _new_version(uow, offer, offer.current_version, spec, note)
    uow.session.flush()
    result = _read(uow, offer)
    uow.commit()
    return result


def list_versions(*, uow: UnitOfWork, code: str) -> list[OfferRead]:
    """Every version of an offer's terms, oldest first (status is the offer's today)."""
    offer = _offer(uow, code)
    current = _read(uow, offer)
    reads = []
    for number in range(1, offer.current_version + 1):
        version = _version(uow, offer, number)
        tools = tools_of(version)
        inputs = OfferEconomicsIn(
            incremental_monthly_revenue_fen=version.incremental_monthly_revenue_fen,
            channel_cost_share_bp=version.channel_cost_share_bp,
            co_funding_bp=version.co_funding_bp,
        )
        reads.append(
            current.model_copy(
                update={
                    "version": number,
                    "name": version.name,
                    "description": version.description,
                    "action": version.action,
                    "product_codes": list(version.product_codes),
                    "valid_from": version.valid_from,
                    "valid_to": version.valid_to,
                    "eligibility": version.eligibility,
                    "excludes": list(version.excludes),
                    "tools": list(version.tools),
                    "tool_costs": [
                        ToolCost(tool=t.tool, expected_cost_fen=t.expected_cost_fen())
                        for t in tools
                    ],
                    "economics_in": inputs,
                    "economics": _economics(tools, inputs),
                }
            )
        )
    return reads


def activate_offer(*, uow: UnitOfWork, code: str, today: date | None = None) -> OfferRead:
    """Put a draft on sale: its pools are created full from the current version's tools."""
    _require_province(uow)
    offer = _offer(uow, code)
    version = _version(uow, offer)
    day = today or province_today()
    if version.valid_to is not None and version.valid_to < day:
        raise InvalidTransition(f"offer {code} expired on {version.valid_to}: it cannot go on sale")
    offer.status = domain.transition(offer.status, OfferStatus.ACTIVE)
    offer.updated_at = utcnow()
    for spec in pool_specs(tools_of(version)):
        uow.session.add(
            OfferPool(
                offer_id=offer.id,
                key=spec.key,
                kind=spec.kind,
                total=spec.total,
                remaining=spec.total,
            )
        )
    uow.session.flush()
    result = _read(uow, offer)
    uow.commit()
    return result


def retire_offer(*, uow: UnitOfWork, code: str) -> OfferRead:
    """Take an offer off sale for good; its redemptions, pools and draws stay."""
    _require_province(uow)
    offer = _offer(uow, code)
    offer.status = domain.transition(offer.status, OfferStatus.RETIRED)
    offer.updated_at = utcnow()
    uow.session.flush()
    result = _read(uow, offer)
    uow.commit()
    return result


# --- pools -----------------------------------------------------------------------------


def _pools(uow: UnitOfWork, offer: Offer) -> list[OfferPool]:
    return list(
        uow.session.scalars(
            select(OfferPool).where(OfferPool.offer_id == offer.id).order_by(OfferPool.id)
        )
    )


def list_pools(*, uow: UnitOfWork, code: str) -> list[PoolRead]:
    """The offer's stock and budget pools: total, remaining, reserved and consumed."""
    offer = _offer(uow, code)
    pools = _pools(uow, offer)
    consumed = dict(
        uow.session.execute(
            select(PoolEntry.pool_id, func.sum(PoolEntry.quantity))
            .where(
                PoolEntry.pool_id.in_([p.id for p in pools]),
                PoolEntry.kind == EntryKind.CONSUME,
            )
            .group_by(PoolEntry.pool_id)
        ).all()
    )
    reads = []
    for pool in pools:
        used = int(consumed.get(pool.id) or 0)
        reads.append(
            PoolRead(
                key=pool.key,
                kind=pool.kind,
                total=pool.total,
                remaining=pool.remaining,
                reserved=pool.total - pool.remaining - used,
                consumed=used,
            )
        )
    return reads


def _take(uow: UnitOfWork, pool: OfferPool, quantity: int) -> bool:
    """Take ``quantity`` from a pool if that much remains; False (nothing changed) if not."""
    result = uow.session.execute(
        update(OfferPool)
        .where(OfferPool.id == pool.id, OfferPool.remaining >= quantity)
        .values(remaining=OfferPool.remaining - quantity)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _give_back(uow: UnitOfWork, pool_id: int, quantity: int) -> None:
    uow.session.execute(
        update(OfferPool)
        .where(OfferPool.id == pool_id)
        .values(remaining=OfferPool.remaining + quantity)
        .execution_options(synchronize_session=False)
    )


# --- redemptions -----------------------------------------------------------------------


def _visible_redemptions(uow: UnitOfWork) -> Select[Redemption]:
    if uow.actor.scope_path is None:
        return select(Redemption)
    return (
        select(Redemption)
        .join(OrgUnit, OrgUnit.code == Redemption.org_id)
        .where(visible(uow, OrgUnit.path))
    )


def _entries(uow: UnitOfWork, redemption_id: int) -> list[EntryRead]:
    rows = uow.session.execute(
        select(OfferPool.key, PoolEntry.kind, PoolEntry.quantity, PoolEntry.reason)
        .join(OfferPool, OfferPool.id == PoolEntry.pool_id)
        .where(PoolEntry.redemption_id == redemption_id)
        .order_by(PoolEntry.id)
    )
    return [EntryRead(pool_key=k, kind=kind, quantity=q, reason=r) for k, kind, q, r in rows]


def _draw_read(draw: Draw, offer_code: str) -> DrawRead:
    return DrawRead(
        id=draw.id,
        redemption_id=draw.redemption_id,
        offer_code=offer_code,
        offer_version=draw.offer_version,
        algorithm=draw.algorithm,
        seed=draw.seed,
        picked=draw.picked,
        stock_granted=draw.stock_granted,
        outcome=draw.outcome,
        prize_table=draw.prize_table,
        created_at=draw.created_at,
    )


def _redemption_read(uow: UnitOfWork, redemption: Redemption, *, created: bool) -> RedemptionRead:
    code = uow.session.scalar(select(Offer.code).where(Offer.id == redemption.offer_id))
    assert code is not None
    draw = uow.session.scalar(select(Draw).where(Draw.redemption_id == redemption.id))
    return RedemptionRead(
        id=redemption.id,
        offer_code=code,
        offer_version=redemption.offer_version,
        subscriber_id=redemption.subscriber_id,
        org_id=redemption.org_id,
        idempotency_key=redemption.idempotency_key,
        referrer_id=redemption.referrer_id,
        referrer_rewarded=redemption.referrer_rewarded,
        status=redemption.status,
        created_by=redemption.created_by,
        created_at=redemption.created_at,
        closed_at=redemption.closed_at,
        close_reason=redemption.close_reason,
        entries=_entries(uow, redemption.id),
        draw=None if draw is None else _draw_read(draw, code),
        created=created,
    )


def _subscriber_home(con: BaseBackend, subscriber_id: int) -> str:
    """The home unit of a subscriber in the caller's scoped warehouse; NotFound if none."""
    subscribers = con.table("subscribers")
    rows = (
        subscribers.filter(subscribers.subscriber_id == subscriber_id)
        .select("org_id")
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    if not rows:
        # The same answer whether the line does not exist or lies outside the scope.
        raise NotFound(
            f"no subscriber {subscriber_id} in your scope",
            details=[{"field": "subscriber_id", "value": subscriber_id}],
        )
    return str(rows[0]["org_id"])


def _replay_key(
    uow: UnitOfWork, key: str, offer: Offer, subscriber_id: int
) -> RedemptionRead | None:
    """The redemption ``key`` already made (if any); Conflict if it was for something else."""
    found = uow.session.scalar(select(Redemption).where(Redemption.idempotency_key == key))
    if found is None:
        return None
    if found.offer_id != offer.id or found.subscriber_id != subscriber_id:
        raise Conflict(
            "Idempotency-Key was already used for another redemption",
            details=[{"field": "idempotency_key", "redemption_id": found.id}],
        )
    return _redemption_read(uow, found, created=False)


def held_offers(*, uow: UnitOfWork, subscriber_id: int) -> list[tuple[str, OfferVersion]]:
    """The offers a subscriber holds (reserved or consumed), each with the terms taken, by code."""
    rows = uow.session.execute(
        select(Offer.code, OfferVersion)
        .join(Redemption, Redemption.offer_id == Offer.id)
        .join(
            OfferVersion,
            (OfferVersion.offer_id == Offer.id)
            & (OfferVersion.version == Redemption.offer_version),
        )
        .where(Redemption.subscriber_id == subscriber_id, Redemption.holding.is_(True))
        .order_by(Offer.code)
    ).all()
    return [(code, version) for code, version in rows]


def _check_exclusions(
    uow: UnitOfWork, offer: Offer, version: OfferVersion, subscriber_id: int
) -> None:
    """Refuse an offer the subscriber holds a mutually exclusive one of (either side may say so)."""
    held = {code: v.excludes for code, v in held_offers(uow=uow, subscriber_id=subscriber_id)}
    conflicts = eligibility_rules.conflicting_offers(offer.code, version.excludes, held)
    if conflicts:
        other_code, _ = conflicts[0]
        raise Conflict(
            f"subscriber {subscriber_id} holds offer {other_code}, which excludes {offer.code}",
            details=[{"field": "offer", "excluded_by": c} for c, _ in conflicts],
        )


def _lottery(tools: Iterable[AnyTool]) -> Lottery | None:
    return next((t for t in tools if isinstance(t, Lottery)), None)


def _referral(tools: Iterable[AnyTool]) -> Referral | None:
    return next((t for t in tools if isinstance(t, Referral)), None)


def _referrer_pool(uow: UnitOfWork, offer: Offer, referrer_id: int, cap: int) -> OfferPool:
    """The referrer's reward cap pool, created full at their first referral.

    Two first referrals at once both try to insert it; the unique (offer, key)
    lets one win, and the other finds the winner's pool once it is committed.
    """
    key = referrer_key(referrer_id)
    stmt = select(OfferPool).where(OfferPool.offer_id == offer.id, OfferPool.key == key)
    pool = uow.session.scalar(stmt)
    if pool is not None:
        return pool
    pool = OfferPool(
        offer_id=offer.id, key=key, kind=PoolKind.REFERRAL_CAP, total=cap, remaining=cap
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(pool)
            uow.session.flush()
    except IntegrityError:
        found = uow.session.scalar(stmt)
        assert found is not None  # the insert lost to exactly this row
        return found
    return pool


def _reserve(
    uow: UnitOfWork, redemption: Redemption, by_key: dict[str, OfferPool], takes: dict[str, int]
) -> bool:
    """Take every pool of ``takes`` (in pool-id order) or none; entries for what was taken."""
    ordered = sorted(takes.items(), key=lambda item: by_key[item[0]].id)
    with uow.session.begin_nested() as savepoint:
        for key, quantity in ordered:
            if not _take(uow, by_key[key], quantity):
                savepoint.rollback()
                return False
        for key, quantity in ordered:
            uow.session.add(
                PoolEntry(
                    pool_id=by_key[key].id,
                    redemption_id=redemption.id,
                    kind=EntryKind.RESERVE,
                    quantity=quantity,
                    created_by=uow.actor.username,
                    created_at=utcnow(),
                )
            )
        uow.session.flush()
    return True


def redeem(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    code: str,
    subscriber_id: int,
    idempotency_key: str,
    referrer_id: int | None = None,
    today: date | None = None,
) -> RedemptionRead:
    """A subscriber in the caller's scope takes an active offer: pools reserved, lottery drawn.

    Returns the earlier redemption (``created`` False) when the key was used before.
    For a referral offer, ``referrer_id`` earns the referrer reward while under the
    tool's cap per referrer (``referrer_rewarded`` says whether it did); the referrer
    is recorded as given (they may live outside the caller's scope, so they are not
    looked up in the scoped warehouse).
    """
    key = idempotency_key.strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(
            f"idempotency_key: 1 to {MAX_KEY} characters", details=[{"field": "idempotency_key"}]
        )
    offer = _offer(uow, code)
    # Scope first: a key never reveals a redemption of a line outside the caller's scope.
    home = _subscriber_home(con, subscriber_id)
    earlier = _replay_key(uow, key, offer, subscriber_id)
    if earlier is not None:
        return earlier
    if offer.status is not OfferStatus.ACTIVE:
        raise InvalidTransition(f"offer {code} is {offer.status}, not on sale")
    version = _version(uow, offer)
    day = today or province_today()
    if day < version.valid_from or (version.valid_to is not None and day > version.valid_to):
        raise InvalidTransition(
            f"offer {code} is valid {version.valid_from} to {version.valid_to or '(open)'}, "
            f"not on {day}"
        )
    _check_exclusions(uow, offer, version, subscriber_id)
    # Imported here: the eligibility service reads this module's held offers and tools.
    from telmark.offers.eligibility.service import require_eligible

    require_eligible(uow=uow, con=con, code=code, subscriber_id=subscriber_id, today=day)
    tools = tools_of(version)
    referral = _referral(tools)
    if referrer_id is not None:
        if referral is None:
            raise InvalidInput(
                f"referrer_id: offer {code} has no referral reward",
                details=[{"field": "referrer_id"}],
            )
        if referrer_id == subscriber_id:
            raise InvalidInput(
                "referrer_id: a subscriber cannot refer themselves",
                details=[{"field": "referrer_id"}],
            )
    now = utcnow()
    redemption = Redemption(
        offer_id=offer.id,
        offer_version=version.version,
        subscriber_id=subscriber_id,
        org_id=home,
        idempotency_key=key,
        referrer_id=referrer_id,
        status=RedemptionStatus.RESERVED,
        holding=True,
        created_by=uow.actor.username,
        created_at=now,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(redemption)
            uow.session.flush()
    except IntegrityError:
        # Another request committed the same key (or this subscriber's hold) meanwhile.
        earlier = _replay_key(uow, key, offer, subscriber_id)
        if earlier is not None:
            return earlier
        raise Conflict(
            f"subscriber {subscriber_id} already holds offer {code}",
            details=[{"field": "subscriber_id", "value": subscriber_id}],
        ) from None
    by_key = {p.key: p for p in _pools(uow, offer)}
    required = required_takes(tools)
    if not _reserve(uow, redemption, by_key, required):
        # Nothing of a refused redemption stays behind, even if the caller commits later.
        uow.rollback()
        short = ", ".join(sorted(required))
        raise Conflict(
            f"offer {code} is out of stock or budget ({short})",
            details=[{"field": "offer", "pools": sorted(required)}],
        )
    if referral is not None and referrer_id is not None:
        # Taken after the required pools, so the lock order stays the same for every taker.
        pool = _referrer_pool(uow, offer, referrer_id, referral.cap_per_referrer)
        by_key[pool.key] = pool
        redemption.referrer_rewarded = _reserve(uow, redemption, by_key, {pool.key: 1})
    lottery = _lottery(tools)
    if lottery is not None:
        seed = secrets.token_hex(16)
        picked = pick_prize(seed, [(p.code, p.odds_ppm) for p in lottery.prizes])
        granted = picked != NO_PRIZE and _reserve(
            uow, redemption, by_key, prize_takes(lottery, picked)
        )
        uow.session.add(
            Draw(
                redemption_id=redemption.id,
                offer_id=offer.id,
                offer_version=version.version,
                algorithm=domain.DRAW_ALGORITHM,
                seed=seed,
                prize_table=tool_json(lottery),
                picked=picked,
                stock_granted=granted,
                outcome=domain.draw_outcome(picked, stock_granted=granted),
                created_by=uow.actor.username,
                created_at=now,
            )
        )
    uow.session.flush()
    result = _redemption_read(uow, redemption, created=True)
    uow.commit()
    return result


def _redemption(uow: UnitOfWork, redemption_id: int, *, lock: bool = False) -> Redemption:
    stmt = _visible_redemptions(uow).where(Redemption.id == redemption_id)
    if lock:
        stmt = stmt.with_for_update(of=Redemption)
    found = uow.session.scalar(stmt)
    if found is None:
        raise NotFound(f"redemption {redemption_id} not found")
    return found


def get_redemption(*, uow: UnitOfWork, redemption_id: int) -> RedemptionRead:
    """One redemption of the caller's scope with its ledger entries and draw."""
    return _redemption_read(uow, _redemption(uow, redemption_id), created=False)


def _close(
    uow: UnitOfWork, redemption_id: int, to: RedemptionStatus, reason: str
) -> RedemptionRead:
    # Locked so a consume and a release of one redemption cannot both pass the transition.
    redemption = _redemption(uow, redemption_id, lock=True)
    status = domain.redemption_transition(redemption.status, to)
    kind = EntryKind.CONSUME if to is RedemptionStatus.CONSUMED else EntryKind.RELEASE
    reserved = uow.session.execute(
        select(PoolEntry.pool_id, PoolEntry.quantity)
        .where(PoolEntry.redemption_id == redemption.id, PoolEntry.kind == EntryKind.RESERVE)
        .order_by(PoolEntry.pool_id)
    ).all()
    redemption.status = status
    redemption.closed_at = utcnow()
    redemption.close_reason = reason
    if to is RedemptionStatus.RELEASED:
        redemption.holding = None
    for pool_id, quantity in reserved:
        if kind is EntryKind.RELEASE:
            _give_back(uow, pool_id, quantity)
        uow.session.add(
            PoolEntry(
                pool_id=pool_id,
                redemption_id=redemption.id,
                kind=kind,
                quantity=quantity,
                reason=reason,
                created_by=uow.actor.username,
                created_at=utcnow(),
            )
        )
    uow.session.flush()
    result = _redemption_read(uow, redemption, created=False)
    uow.commit()
    return result


def consume_redemption(*, uow: UnitOfWork, redemption_id: int, note: str = "") -> RedemptionRead:
    """The incentive was delivered: the reservation becomes final."""
    return _close(uow, redemption_id, RedemptionStatus.CONSUMED, note.strip() or "delivered")


def release_redemption(*, uow: UnitOfWork, redemption_id: int, reason: str) -> RedemptionRead:
    """Give a reservation back (order cancelled, not delivered): stock and budget return."""
    cleaned = reason.strip()
    if not cleaned:
        raise InvalidInput(
            "reason: say why the reservation is released", details=[{"field": "reason"}]
        )
    return _close(uow, redemption_id, RedemptionStatus.RELEASED, cleaned[:500])


def list_redemptions(
    *, uow: UnitOfWork, code: str | None = None, subscriber_id: int | None = None, limit: int = 100
) -> list[RedemptionRead]:
    """Redemptions in the caller's scope, newest first."""
    stmt = _visible_redemptions(uow)
    if code is not None:
        stmt = stmt.where(Redemption.offer_id == _offer(uow, code).id)
    if subscriber_id is not None:
        stmt = stmt.where(Redemption.subscriber_id == subscriber_id)
    rows = uow.session.scalars(stmt.order_by(Redemption.id.desc()).limit(max(1, min(limit, 1000))))
    return [_redemption_read(uow, r, created=False) for r in rows]


# --- draws -----------------------------------------------------------------------------


def _draw(uow: UnitOfWork, draw_id: int) -> tuple[Draw, str]:
    row = uow.session.execute(
        select(Draw, Offer.code)
        .join(Offer, Offer.id == Draw.offer_id)
        .where(
            Draw.id == draw_id,
            Draw.redemption_id.in_(_visible_redemptions(uow).with_only_columns(Redemption.id)),
        )
    ).first()
    if row is None:
        raise NotFound(f"draw {draw_id} not found")
    return row[0], row[1]


def get_draw(*, uow: UnitOfWork, draw_id: int) -> DrawRead:
    """One recorded lottery draw (of a redemption in the caller's scope)."""
    draw, code = _draw(uow, draw_id)
    return _draw_read(draw, code)


def replay_draw(*, uow: UnitOfWork, draw_id: int) -> ReplayRead:
    """Recompute a draw from its recorded seed and prize table; ``matches`` if it agrees."""
    draw, _ = _draw(uow, draw_id)
    if draw.algorithm != domain.DRAW_ALGORITHM:
        raise InvalidInput(f"draw {draw_id} used algorithm {draw.algorithm}, unknown here")
    table = Lottery.model_validate(draw.prize_table)
    picked = pick_prize(draw.seed, [(p.code, p.odds_ppm) for p in table.prizes])
    outcome = domain.draw_outcome(picked, stock_granted=draw.stock_granted)
    return ReplayRead(
        draw_id=draw.id,
        seed=draw.seed,
        algorithm=draw.algorithm,
        recorded_picked=draw.picked,
        recorded_outcome=draw.outcome,
        picked=picked,
        outcome=outcome,
        matches=picked == draw.picked and outcome == draw.outcome,
    )


# --- demo ------------------------------------------------------------------------------


def seed_examples(*, uow: UnitOfWork, today: date | None = None) -> int:
    """Save and activate the example offers (``offers.seed``) if the book is empty; how many.

    Needs their products in the catalog (the demo seeds the catalog first).
    """
    from telmark.offers.seed import examples

    if uow.session.scalar(select(Offer.id).limit(1)) is not None:
        return 0
    day = today or province_today()
    specs = examples(day)
    for spec in specs:
        _validate(uow, spec)
        now = utcnow()
        offer = Offer(
            code=spec.code,
            status=OfferStatus.DRAFT,
            current_version=1,
            created_by=uow.actor.username,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(offer)
        uow.session.flush()
        version = _new_version(uow, offer, 1, spec, "示例")
        uow.session.flush()
        offer.status = domain.transition(offer.status, OfferStatus.ACTIVE)
        for pool in pool_specs(tools_of(version)):
            uow.session.add(
                OfferPool(
                    offer_id=offer.id,
                    key=pool.key,
                    kind=pool.kind,
                    total=pool.total,
                    remaining=pool.total,
                )
            )
        uow.session.flush()
    uow.commit()
    return len(specs)


__all__ = [
    "activate_offer",
    "consume_redemption",
    "create_offer",
    "economics_of",
    "get_draw",
    "get_offer",
    "get_redemption",
    "held_offers",
    "list_offers",
    "list_pools",
    "list_redemptions",
    "list_versions",
    "offer_economics",
    "redeem",
    "release_redemption",
    "replay_draw",
    "retire_offer",
    "seed_examples",
    "update_offer",
]
