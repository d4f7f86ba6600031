"""Contract cohorts from the warehouse, for the sBG retention model.

A cohort is the contract lines (``contract_end`` set) that joined in one
month. Period t of a cohort ends with the t-th month of its lines' life (the
join month is month 1), so ``survivors[t]`` is the number not ported out or
terminated by the end of month ``join + t - 1`` and ``survivors[0]`` is the
cohort size.

A BOSS export holds the lines that existed when its data begins, not those
that left years before: the warehouse sees an old cohort only from its tenure
at the first usage month (its "first period"), and the cohort "size" is the
lines still there then. The fit accounts for that (``sbg.fit_cohorts``
conditions each cohort on surviving to its first period), instead of reading
the missing early leavers as perfect early retention.

The warehouse returns only counts per (join month, exit month), a few
thousand rows for any province; the survivor series are built from them here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.analysis.value import sbg
from telmark.analysis.value.rfm import index_of, month_index
from telmark.errors import DomainError

EXIT_STATUSES = ("ported_out", "terminated")
# A cohort smaller than this is not fitted on its own (it still counts in the pooled fit).
MIN_COHORT_LINES = 30
DEFAULT_COHORT_MONTHS = 12


def month_of(index: int) -> date:
    """The first day of the month with ``month_index`` ``index``."""
    return date(index // 12, index % 12 + 1, 1)


def contract_flows(con: BaseBackend) -> ir.Table:
    """Contract lines per (``join_idx``, ``exit_idx``); ``exit_idx`` is NULL for stayers."""
    subs = con.table("subscribers")
    contract = subs.filter(subs.contract_end.notnull())
    exited = contract.status.isin(EXIT_STATUSES)
    exit_idx = exited.ifelse(month_index(contract.status_date), None)
    return contract.group_by(join_idx=month_index(contract.join_date), exit_idx=exit_idx).agg(
        lines=contract.count()
    )


@dataclass(frozen=True, slots=True)
class Cohort:
    join_idx: int
    first_period: int  # the first period the warehouse observes (0 = from joining)
    survivors: tuple[int, ...]  # after first_period, first_period + 1, ... periods

    @property
    def join_month(self) -> date:
        return month_of(self.join_idx)

    @property
    def observed(self) -> sbg.ObservedCohort:
        return sbg.ObservedCohort(first_period=self.first_period, survivors=self.survivors)


def build_cohorts(
    flows: list[tuple[int, int | None, int]], *, data_start_idx: int, as_of_idx: int
) -> list[Cohort]:
    """Survivor series of every join month up to the as-of month, oldest first.

    ``flows`` holds (join_idx, exit_idx or None, lines).
    """
    by_join: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
    for join_idx, exit_idx, lines in flows:
        if join_idx <= as_of_idx:
            by_join[join_idx].append((exit_idx, lines))
    cohorts = []
    for join_idx in sorted(by_join):
        rows = by_join[join_idx]
        size = sum(lines for _, lines in rows)
        first = max(0, data_start_idx - join_idx)
        last = as_of_idx - join_idx + 1
        survivors = tuple(
            size
            - sum(
                lines
                for exit_idx, lines in rows
                if exit_idx is not None and exit_idx <= join_idx + t - 1
            )
            for t in range(first, last + 1)
        )
        cohorts.append(Cohort(join_idx=join_idx, first_period=first, survivors=survivors))
    return cohorts


def read_cohorts(con: BaseBackend, *, data_start: date, as_of: date) -> list[Cohort]:
    """``build_cohorts`` over the (possibly scoped) warehouse ``con``."""
    rows = contract_flows(con).to_pyarrow().to_pylist()
    flows = [(int(r["join_idx"]), r["exit_idx"], int(r["lines"])) for r in rows]
    return build_cohorts(flows, data_start_idx=index_of(data_start), as_of_idx=index_of(as_of))


@dataclass(frozen=True, slots=True)
class CohortFit:
    cohort: Cohort
    model: sbg.SbgFit | None
    problem: str | None  # why the cohort has no fit of its own


def fit_each(cohorts: list[Cohort], *, latest: int) -> list[CohortFit]:
    """An sBG fit of each of the ``latest`` join-month cohorts that can be fitted alone."""
    fits = []
    for cohort in cohorts[-latest:]:
        if cohort.survivors[0] < MIN_COHORT_LINES:
            fits.append(CohortFit(cohort, None, f"fewer than {MIN_COHORT_LINES} lines"))
            continue
        if len(cohort.survivors) < 2:
            fits.append(CohortFit(cohort, None, "joined in the as-of month: nothing observed"))
            continue
        try:
            model = sbg.fit_cohorts([cohort.observed])
        except DomainError as error:
            fits.append(CohortFit(cohort, None, error.message))
            continue
        if not model.converged:
            fits.append(CohortFit(cohort, None, "the fit did not converge"))
            continue
        fits.append(CohortFit(cohort, model, None))
    return fits


def fit_pooled(cohorts: list[Cohort]) -> sbg.SbgFit:
    """One sBG fit over every cohort (each conditioned on its first observed period)."""
    return sbg.fit_cohorts([c.observed for c in cohorts])
