"""General propensity trainer: any labelled table in, calibrated scores and metrics out.

``train_propensity`` (service.py) is the entry point; ``read_table`` and
``write_scores`` (files.py) move data between files and the trainer.
"""

from __future__ import annotations

from telmark.analysis.propensity.files import read_table, write_scores
from telmark.analysis.propensity.schemas import PropensityReport
from telmark.analysis.propensity.service import train_propensity

__all__ = ["PropensityReport", "read_table", "train_propensity", "write_scores"]
