"""A rendered sandbox as DuckDB views: for the generator's own checks, the health-signal prototype and
debugging.

Only what a vendor would expose is under the plain names (world tables, `events`, `survey_csv`, and the dbt
seed `fx_rates_monthly`); ground truth is under `truth_*`, so a check that must not peek at it shows at a
glance when it does.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from sandbox.generator.world import FX_SEED
from sandbox.manifest import Manifest


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def connect(directory: Path, memory_limit: str = "2GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per world table, the events, the survey CSVs and the truth files."""
    manifest = Manifest.read(directory)
    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": 2})
    con.execute("set TimeZone = 'UTC'")  # dates of timestamps are UTC days, as the sandbox defines them
    for path in sorted((directory / "world").glob("*.parquet")):
        con.execute(f"create view {path.stem} as select * from read_parquet('{_quote(path)}')")
    pattern = _quote(directory / "events" / "*" / f"*.{manifest.events_format}")
    reader = "read_parquet" if manifest.events_format == "parquet" else "read_json_auto"
    if any((directory / "events").glob(f"*/*.{manifest.events_format}")):
        con.execute(
            f"create view events as select * from {reader}('{pattern}', hive_partitioning = false, filename = true)"
        )
    if any((directory / "surveys_csv").glob("*.csv")):
        con.execute(
            "create view survey_csv as select * from read_csv("
            f"'{_quote(directory / 'surveys_csv' / '*.csv')}', all_varchar = true, filename = true)"
        )
    truth = directory / "truth"
    for path in sorted(truth.glob("*.parquet")):
        con.execute(f"create view truth_{path.stem} as select * from read_parquet('{_quote(path)}')")
    if (truth / "usage_daily").exists():
        con.execute(
            "create view truth_usage_daily as select * from "
            f"read_parquet('{_quote(truth / 'usage_daily' / '*.parquet')}')"
        )
    con.execute(f"create view fx_rates_monthly as select * from read_csv('{_quote(FX_SEED)}')")
    return con
