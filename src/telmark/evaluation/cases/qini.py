"""A case's Qini curve under the latest scored uplift model: were its persuadable lines first?

The case's exposed lines (treatment contacts and control rows, in the actor's scope) are
ranked by the newest uplift model that has scored the province (``uplift_scores``, highest
predicted uplift first); the curve is ``analysis.uplift.domain.qini_curve`` over them, with
"responded" meaning a take-up event attributed to the case. Lines the model did not score
(they joined after scoring) are left out and counted. A case evaluated with a model that
learned from this very case is judged on its training data: the page names the model's cases
so a reader can tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.analysis.uplift.domain import qini_coefficient, qini_curve
from telmark.analysis.uplift.models import UpliftModel
from telmark.db import utcnow
from telmark.evaluation.cases.service import read_rows
from telmark.execution.responses.domain import TAKE_UP_TYPES
from telmark.targeting.domain import Group
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table

SCORES = "uplift_scores"
POINTS = 101  # the curve is drawn at 101 shares of the ranked lines (0 %, 1 %, … 100 %)


@dataclass(frozen=True, slots=True)
class CaseQini:
    """The curve (share of the case's lines targeted → incremental responders) and its
    coefficient, for model ``version`` trained on ``cases``."""

    version: int
    cases: list[int]
    lines: int
    unscored: int
    share: list[float]
    incremental: list[float]
    coefficient: float


def case_qini(*, uow: UnitOfWork, con: BaseBackend, case_id: int) -> CaseQini | None:
    """The case's Qini curve (module doc); None without a scored model or both groups."""
    model = uow.session.scalar(
        select(UpliftModel)
        .where(UpliftModel.scored_at.is_not(None))
        .order_by(UpliftModel.version.desc())
        .limit(1)
    )
    if model is None or not has_table(con, SCORES):
        return None
    exposures, attributions, _ = read_rows(uow, case_id, cutoff=utcnow())
    if exposures.num_rows == 0:
        return None
    treated = pc.equal(exposures["group"], Group.TREATMENT.value)
    lines = pa.table({"subscriber_id": exposures["subscriber_id"], "treated": treated})
    kinds = pa.array(sorted(t.value for t in TAKE_UP_TYPES))
    takers = attributions.filter(pc.is_in(attributions["type"], value_set=kinds))
    responded = set(takers["subscriber_id"].to_pylist())
    scores = con.table(SCORES)
    mine = ibis.memtable(lines.group_by("subscriber_id").aggregate([("treated", "max")]))
    theirs = scores.filter(scores.model_version == model.version).select(
        _s="subscriber_id", uplift="uplift"
    )
    ranked = (
        mine.inner_join(theirs, mine.subscriber_id == theirs._s)
        .drop("_s")
        .order_by("subscriber_id")
        .to_pyarrow()
    )
    ids = ranked["subscriber_id"].to_numpy()
    t = ranked["treated_max"].to_numpy(zero_copy_only=False).astype(float)
    if ranked.num_rows == 0 or t.min() == t.max():
        return None  # the curve needs treated and control lines
    y = np.fromiter((i in responded for i in ids.tolist()), dtype=float, count=len(ids))
    score = ranked["uplift"].to_numpy(zero_copy_only=False).astype(float)
    curve = qini_curve(y, t, score)
    at = np.linspace(0, curve.x[-1], POINTS)
    return CaseQini(
        version=model.version,
        cases=list(model.case_ids),
        lines=len(ids),
        unscored=mine.count().to_pyarrow().as_py() - len(ids),
        share=[round(float(v), 4) for v in at / curve.x[-1]],
        incremental=[round(float(v), 3) for v in np.interp(at, curve.x, curve.y)],
        coefficient=round(qini_coefficient(y, t, score), 4),
    )
