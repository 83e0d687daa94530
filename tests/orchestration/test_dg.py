"""The `dg` CLI on the project as a user runs it from the repository root ([tool.dg] in pyproject.toml): the code
location loads (`dg check defs`) and an asset materializes against the sandbox (`dg launch`), each as its own
process with only the environment a user would set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from sandbox.connect import environment

REPO_ROOT = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).with_name("dg")


def dg(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DG), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def user_environment(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without the virtualenv on PATH, with a warehouse and Dagster home of the test's own."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CSOPS_", "SOURCES__"))}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != DG.parent)
    env["DAGSTER_HOME"] = str(home)
    env["CSOPS_WAREHOUSE"] = str(tmp_path / "warehouse" / "warehouse.duckdb")
    env["CSOPS_DLT_PIPELINES_DIR"] = str(tmp_path / "warehouse" / "dlt_pipelines")
    return env


def test_dg_check_defs_loads_the_code_location_from_the_repository_root(tmp_path: Path) -> None:
    result = dg(["check", "defs"], user_environment(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_launch_loads_one_source_into_the_warehouse_the_environment_names(
    tmp_path: Path, sandbox_dir: Path, sandbox_url: str
) -> None:
    env = {**user_environment(tmp_path), **environment(sandbox_dir, sandbox_url)}
    result = dg(["launch", "--assets", "dlt/hubspot/owners"], env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    expected = pq.read_metadata(sandbox_dir / "world" / "hubspot_owners.parquet").num_rows
    assert expected > 0
    with duckdb.connect(env["CSOPS_WAREHOUSE"], read_only=True) as con:
        assert con.execute("select count(*) from raw_hubspot.owners").fetchone()[0] == expected
