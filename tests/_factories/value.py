"""Transaction logs for the CLV fit, rebuilt from the CDNOW sample summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CDNOW = Path(__file__).parents[1] / "fixtures" / "cdnow_sample_summary.csv"
END = pd.Timestamp("2024-12-31")


def cdnow_transactions(customers: int) -> pd.DataFrame:
    """Daily transactions whose weekly (x, t_x, T) up to ``END`` match the first CDNOW rows.

    Repeat purchases are spread evenly up to t_x; values vary between 5 and 11.
    Columns: ``msisdn`` (str), ``paid_at`` (ISO date str), ``amount`` (float).
    """
    summary = pd.read_csv(CDNOW).head(customers)
    rows: list[tuple[str, pd.Timestamp, float]] = []
    columns = (summary[c].tolist() for c in ("ID", "x", "t_x", "T"))
    for ident, x, t_x, big_t in zip(*columns, strict=True):
        first = END - pd.Timedelta(days=round(float(big_t) * 7))
        rows.append((f"c{ident}", first, 10.0))
        for k in range(int(x)):
            day = first + pd.Timedelta(days=max(1, round(float(t_x) * 7 * (k + 1) / int(x))))
            rows.append((f"c{ident}", day, 5.0 + (k + int(ident)) % 7))
    frame = pd.DataFrame(rows, columns=["msisdn", "paid_at", "amount"])
    frame["paid_at"] = frame["paid_at"].dt.strftime("%Y-%m-%d")
    return frame
