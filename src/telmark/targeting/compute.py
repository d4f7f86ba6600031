"""Computing a targeting run: its inputs, the pipeline bucket by bucket, and its list file.

The pipeline's decisions are per subscriber — caps, gap, consent, holdout and
arbitration all look at one subscriber's candidates only — so a run splits the
subscribers into ``buckets`` by ``subscriber_id`` modulo the bucket count and
computes each bucket on its own: memory on the warehouse and in the app stays
that of one bucket (about ``BUCKET_PAIRS`` case–subscriber pairs), whatever the
size of the province. The bucket count follows from the snapshots' sizes, so
the same inputs always give the same buckets, the same file and the same SHA-256.

Each bucket's decisions are cached in the warehouse once (``Table.cache``,
DuckDB and Spark alike) and read three times: counts by reason, winners with
their attributes and covariates, losers. Winners get their holdout group
(``domain.in_holdout``), the summary is added up (``results.Tally``: counts,
balance moments, losses, list counts), and the bucket's list parts go to the
sink — the Parquet writer of the run's file, or nowhere in a simulation.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.consent.domain import Channel
from telmark.consent.service import blocked_msisdns
from telmark.db import utcnow
from telmark.errors import Conflict, NotFound
from telmark.offers.domain import OfferStatus, ProductAction
from telmark.offers.eligibility import bulk
from telmark.offers.eligibility import service as eligibility
from telmark.offers.eligibility.bulk import Book, product_terms
from telmark.offers.eligibility.domain import WIN_BACK_STATUSES
from telmark.offers.models import Offer, OfferVersion
from telmark.org.domain import is_root_path
from telmark.segments import service as segments_service
from telmark.segments.compile import resolve_as_of
from telmark.segments.rules import parse_rule
from telmark.segments.snapshots import snapshot_members
from telmark.segments.snapshots.store import file_digest
from telmark.targeting import pipeline, results
from telmark.targeting.domain import (
    GLOBAL_CASE,
    CaseSpec,
    ContactPolicy,
    Reason,
    RunStatus,
    Step,
    in_holdout,
    lookback,
)
from telmark.targeting.models import TargetingRun
from telmark.targeting.schemas import RunSummary
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table

# Case–subscriber pairs per bucket: at 10M subscribers and five cases (17M pairs) five
# buckets keep a run under 4 GB (benchmarks/RESULTS.md, "Targeting").
BUCKET_PAIRS = 4_000_000
ROW_GROUP = 1 << 20
Sink = Callable[[pa.Table], None]


# -- inputs of a run ---------------------------------------------------------------------------


def _offer_rules(
    uow: UnitOfWork, con: BaseBackend, cases: Sequence[CaseSpec], on: date, book: Book
) -> dict[str, pipeline.OfferRule]:
    """The cases' offers that are active and valid on ``on``, as set-wise rules."""
    codes = sorted({code for case in cases for code in case.offer_codes})
    if not codes:
        return {}
    rows = uow.session.execute(
        select(Offer, OfferVersion)
        .join(
            OfferVersion,
            (OfferVersion.offer_id == Offer.id) & (OfferVersion.version == Offer.current_version),
        )
        .where(Offer.code.in_(codes))
    ).all()
    known = {offer.code for offer, _ in rows}
    missing = [c for c in codes if c not in known]
    if missing:
        raise NotFound(f"offers not found: {', '.join(missing)}")
    as_of: date | None = None
    rules: dict[str, pipeline.OfferRule] = {}
    products = book.products
    for offer, version in rows:
        valid = version.valid_from <= on and (version.valid_to is None or on <= version.valid_to)
        if offer.status is not OfferStatus.ACTIVE or not valid:
            continue  # selects nobody: counted as not eligible
        members = None
        if version.eligibility is not None:
            as_of = as_of or resolve_as_of(con)
            members = segments_service.members_of(
                uow=uow, con=con, rule=parse_rule(version.eligibility), as_of=as_of
            )
        statuses = (
            tuple(sorted(s.value for s in WIN_BACK_STATUSES))
            if version.action is ProductAction.WIN_BACK
            else ("active",)
        )
        terms = eligibility.terms_of(offer, version)
        rules[offer.code] = pipeline.OfferRule(
            offer.code, members, statuses, product_terms(terms, products)
        )
    return rules


def _members(
    uow: UnitOfWork, con: BaseBackend, cases: Sequence[CaseSpec], snapshot_dir: Path
) -> ir.Table:
    """(case_id, subscriber_id, outside, pref) of every case's snapshot; ``outside`` marks the
    lines outside the case's area (``pipeline.in_area``), ``pref`` a unit's preferred channel
    (``pipeline.preferred_channel``)."""
    as_of: date | None = None
    parts = []
    for case in cases:
        members = snapshot_members(
            uow=uow, con=con, directory=snapshot_dir, snapshot_id=case.snapshot_id
        )
        part = members.select(
            case_id=ibis.literal(case.case_id, type="int64"),
            subscriber_id=members.subscriber_id.cast("int64"),
        )
        if is_root_path(case.org_path) and not case.local_rules and not case.local_channels:
            parts.append(part.mutate(outside=ibis.literal(False), pref=ibis.null("string")))
            continue
        local = []
        for org, rule in case.local_rules:
            as_of = as_of or resolve_as_of(con)
            document = parse_rule(json.loads(rule))
            local.append(
                (org, segments_service.members_of(uow=uow, con=con, rule=document, as_of=as_of))
            )
        subscribers = con.table("subscribers")
        homes = subscribers.select(_h_sub=subscribers.subscriber_id, org_id=subscribers.org_id)
        part = part.left_join(homes, part.subscriber_id == homes._h_sub).drop("_h_sub")
        inside = pipeline.in_area(con, case, part, local)
        parts.append(
            part.select(
                "case_id",
                "subscriber_id",
                outside=~inside.fill_null(False),
                pref=pipeline.preferred_channel(con, case, part),
            )
        )
    union = parts[0]
    for part in parts[1:]:
        union = union.union(part, distinct=False)
    return union


def _blocked(uow: UnitOfWork, cases: Sequence[CaseSpec]) -> ir.Table:
    moment = utcnow()
    channels = sorted({c for case in cases for c in case.channels})
    return pipeline.blocked_masks(
        {
            c: blocked_msisdns(uow=uow, channel=Channel(c), now=moment).column("msisdn").to_pylist()
            for c in channels
        }
    )


def _global_holdout(con: BaseBackend, policy: ContactPolicy) -> ir.Table | None:
    if not policy.global_holdout_bp:
        return None
    ids = con.table("subscribers").subscriber_id.to_pyarrow().to_numpy()
    held = ids[in_holdout(policy.global_holdout_key, GLOBAL_CASE, ids, policy.global_holdout_bp)]
    return ibis.memtable({"subscriber_id": np.sort(held).astype(np.int64)})


def _planned(
    uow: UnitOfWork, con: BaseBackend, directory: Path, on: date, policy: ContactPolicy, own: str
) -> list[tuple[ir.Table, date]]:
    """Complete earlier runs whose day the caps or the gap of ``on`` must count."""
    first, last = lookback(on, policy)
    rows = uow.session.scalars(
        select(TargetingRun)
        .where(
            TargetingRun.status == RunStatus.COMPLETE,
            TargetingRun.run_on >= first,
            TargetingRun.run_on <= last,
            TargetingRun.run_key != own,
        )
        .order_by(TargetingRun.id)
    ).all()
    return [(con.read_parquet(str(verified(directory, r))), r.run_on) for r in rows]


# -- computing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lists:
    """A computed run: its summary and how many contacts and controls its lists hold."""

    summary: RunSummary
    contacts: int
    controls: int

    def selected(self, case_id: int) -> int:
        """Winners (treatment and control) of ``case_id``: the funnel after arbitration."""
        funnel = next(f for f in self.summary.funnel if f.case_id == case_id)
        return next(s.count for s in funnel.steps if s.step is Step.ARBITRATION)


def bucket_count(pairs: int) -> int:
    return max(1, math.ceil(pairs / BUCKET_PAIRS))


def compute(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    cases: Sequence[CaseSpec],
    on: date,
    policy: ContactPolicy,
    snapshot_dir: Path,
    directory: Path,
    run_key: str,
    holdout_key: str,
    sink: Sink | None = None,
) -> Lists:
    """Run the pipeline bucket by bucket; list parts go to ``sink`` (module docstring)."""
    members = _members(uow, con, cases, snapshot_dir)
    found = pipeline.contacts(
        pipeline.history_contacts(con, on, policy),
        pipeline.planned_contacts(
            con, _planned(uow, con, directory, on, policy, run_key), on, policy
        ),
    )
    catalog = pipeline.Catalog(
        book=eligibility.book(uow=uow, on=on), held=bulk.holdings(con, on), on=on
    )
    offers = _offer_rules(uow, con, cases, on, catalog.book)
    blocked = _blocked(uow, cases)
    held = _global_holdout(con, policy)
    as_of = resolve_as_of(con) if has_table(con, "usage_monthly") else None
    lost = pipeline.REASON_CODES.index(Reason.ARBITRATION_LOST.value)
    buckets = bucket_count(int(members.count().to_pyarrow().as_py()))
    tally = results.Tally(cases)
    contacts = controls = 0
    for bucket in range(buckets):
        part = members.filter(members.subscriber_id % buckets == bucket) if buckets > 1 else members
        decided = pipeline.decisions(
            con=con, members=part, cases=cases, offers=offers, blocked=blocked,
            global_holdout=held, found_contacts=found, policy=policy, catalog=catalog,
        )  # fmt: skip
        with pipeline.narrow(decided).cache() as cached:
            counts = (
                cached.group_by("case_id", "reason_code").aggregate(n=cached.count()).to_pyarrow()
            )
            winners = pipeline.winner_attributes(
                con, cached.filter(cached.reason_code.isnull()).drop("reason_code", "beaten_by"),
                as_of, on,
            ).to_pyarrow()  # fmt: skip
            losers = cached.filter(cached.reason_code == lost).drop("reason_code").to_pyarrow()
        counts = counts.append_column(
            "reason", results.decode(counts, "reason_code", pipeline.REASON_CODES)
        )
        winners = winners.append_column(
            "channel", results.decode(winners, "channel_code", pipeline.CHANNEL_CODES)
        )
        losers = losers.append_column(
            "channel", results.decode(losers, "channel_code", pipeline.CHANNEL_CODES)
        )
        control = results.assign_groups(winners, cases, holdout_key)
        tally.add(counts=counts, winners=winners, control=control, losers=losers)
        contacts += int((~control).sum())
        controls += int(control.sum())
        if sink is not None:
            for table in results.list_parts(
                winners=winners, control=control, losers=losers, cases=cases, policy=policy,
                on=on,
            ):  # fmt: skip
                sink(table)
    return Lists(summary=tally.summary(policy), contacts=contacts, controls=controls)


# -- files -------------------------------------------------------------------------------------


def resolve(directory: Path, relative: str) -> Path:
    root = directory.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise Conflict(f"list file path {relative!r} lies outside the targeting directory")
    return path


def temporary_of(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp")


def discard(directory: Path, relative: str) -> None:
    final = resolve(directory, relative)
    for path in (temporary_of(final), final):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def verified(directory: Path, run: TargetingRun) -> Path:
    path = resolve(directory, run.file_path)
    if not path.exists():
        raise Conflict(
            f"targeting run {run.id}: its list file is missing",
            details=[{"run_id": run.id}],
        )
    digest, size = file_digest(path)
    if (digest, size) != (run.sha256, run.byte_size):
        raise Conflict(
            f"targeting run {run.id}: its list file was changed after the run "
            f"(SHA-256 {digest[:12]}…, recorded {str(run.sha256)[:12]}…)",
            details=[{"run_id": run.id}],
        )
    return path


def write_lists(final: Path, produce: Callable[[Sink], Lists]) -> tuple[Lists, str, int]:
    """``produce`` the lists into a hidden temporary file, rename it into place, hash it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_of(final)
    # Fixed writer options and part order: the same parts always give the same bytes.
    with pq.ParquetWriter(temporary, results.LIST_SCHEMA, compression="zstd") as writer:
        computed = produce(lambda table: writer.write_table(table, row_group_size=ROW_GROUP))
    os.replace(temporary, final)
    digest, size = file_digest(final)
    return computed, digest, size
