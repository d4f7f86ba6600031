"""The synthetic province generator (see docs/generator.md).

``generate_province(out_dir=..., subscribers=..., months=..., seed=...)`` writes
every contract table and the hidden truth as Parquet; same arguments, same data.
"""

from telmark.warehouse.generator.province import (
    CHUNK_SIZE,
    GENERATOR_VERSION,
    GenerationReport,
    generate_province,
)

__all__ = ["CHUNK_SIZE", "GENERATOR_VERSION", "GenerationReport", "generate_province"]
