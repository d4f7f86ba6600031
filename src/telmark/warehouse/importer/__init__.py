"""Importing BOSS exports (CSV or Parquet) into the warehouse, validated against the contract.

``import_table`` loads one table from a file or a directory of parts;
``load_directory`` loads a whole province directory, all or nothing. Nothing
is replaced unless every check passes; see ``service`` for the pipeline and
``load`` for the atomicity guarantee of each backend.
"""

from telmark.warehouse.importer.report import HEADER, ImportRejected, ImportReport, Problem
from telmark.warehouse.importer.service import import_table, load_directory

__all__ = [
    "HEADER",
    "ImportRejected",
    "ImportReport",
    "Problem",
    "import_table",
    "load_directory",
]
