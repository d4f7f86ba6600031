"""A labelled customer table with mixed types, blanks and a label that depends on some columns."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

CITIES = ("南京", "无锡", "徐州", "苏州", "常州")
PLANS = ("5G-128", "5G-199", "4G-58", "融合-299")


def labelled_customers(rows: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Every column as text, as a CSV would hold it; ``churned`` is yes/no.

    Churn rises with complaints, falls with tenure, is higher in two cities
    and for recent sign-ups; ``noise`` and ``lucky_number`` are unrelated.
    """
    rng = np.random.default_rng(seed)
    city = rng.choice(CITIES, rows)
    plan = rng.choice(PLANS, rows)
    tenure = rng.integers(1, 120, rows)
    complaints = rng.poisson(0.8, rows)
    arpu = rng.gamma(4.0, 20.0, rows).round(2)
    has_5g = rng.random(rows) < 0.5
    signup = [date(2020, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 1800, rows)]
    recent = np.array([d > date(2024, 1, 1) for d in signup])
    logit = (
        -1.6
        + 0.9 * complaints
        - 0.025 * tenure
        + 1.1 * np.isin(city, ("无锡", "徐州"))
        + 0.8 * recent
        - 0.5 * has_5g
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))

    def blank(values: list[str], share: float) -> list[str]:
        holes = rng.random(rows) < share
        return ["" if h else v for v, h in zip(values, holes, strict=True)]

    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(rows)],
            "city": blank([str(c) for c in city], 0.05),
            "plan": blank([str(p) for p in plan], 0.05),
            "tenure_months": blank([str(t) for t in tenure], 0.1),
            "complaints": [str(c) for c in complaints],
            "arpu": blank([f"{a:.2f}" for a in arpu], 0.1),
            "has_5g": blank(["true" if h else "false" for h in has_5g], 0.05),
            "signup_date": blank([d.isoformat() for d in signup], 0.05),
            "noise": [f"{x:.4f}" for x in rng.normal(size=rows)],
            "lucky_number": [str(x) for x in rng.integers(0, 10, rows)],
            "phone": [f"tel-{x:011d}" for x in rng.permutation(rows)],
            "churned": ["yes" if c else "no" for c in churned],
        }
    )
