"""A plain `dbt build` in dbt_project/ describes the same day as the graph's last build: every build records its
as-of date in the warehouse (on-run-end), and without CSOPS_AS_OF_DATE dbt reads it back (macros/time.sql)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DBT = str(Path(sys.executable).with_name("dbt"))
DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def dbt(args: list[str], env: dict[str, str], target: Path) -> str:
    result = subprocess.run(
        [DBT, *args, "--target-path", str(target)],
        cwd=DBT_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def test_dbt_without_an_as_of_date_reuses_the_one_the_last_build_recorded(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CSOPS_AS_OF_DATE"}
    env.update({"CSOPS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"), "CSOPS_TARGET": "duckdb"})
    show = ["show", "--inline", "select {{ as_of_date() }} as as_of"]
    dbt(["seed", "--select", "health_weights"], {**env, "CSOPS_AS_OF_DATE": "2026-11-01"}, tmp_path / "target")
    assert "2026-11-01" in dbt(show, env, tmp_path / "target")
    # An explicit date still wins over the recorded one.
    assert "2025-06-30" in dbt(show, {**env, "CSOPS_AS_OF_DATE": "2025-06-30"}, tmp_path / "target")
