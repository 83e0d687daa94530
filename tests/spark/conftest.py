"""One tiny company, loaded twice — into a DuckDB warehouse by dlt, then dbt (the reference), and into a Parquet lake
by a Dagster run of the whole graph on the spark target (dlt -> raw checks -> dbt on a local Spark session,
`local[2]` -> publish -> CRM push). The later Spark builds run in this process through dbt's Python API (one JVM for
them all; the Dagster run's dbt process has exited by then and released Spark's Derby catalog)."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingestion.pipeline import ingest
from orchestration.run import RunOutcome, instance_for, run_graph
from sandbox.generator.world import generate
from sandbox.manifest import resolve_scale
from sandbox.server.app import running_server
from tests.support import (
    DBT_PROJECT,
    SANDBOX_SEED,
    SANDBOX_TODAY,
    UNTHROTTLED_FAULTS,
    dbt,
    point_at_sandbox,
    require_service,
)

# The health history both engines score (the project's default is 730 days): enough for every mart to have rows,
# short enough that the Spark builds stay a few minutes on a shared 2-core machine. The Dagster run reads it from
# the environment (CSOPS_HEALTH_HISTORY_DAYS), the dbt invocations here from --vars.
HEALTH_HISTORY_DAYS = 120
SPARK_TEST_VARS = f"{{health_history_days: {HEALTH_HISTORY_DAYS}}}"


@dataclass
class SparkCompany:
    sandbox: Path
    base_url: str
    warehouse: Path  # the DuckDB build, the reference
    spark_warehouse: Path  # the spark target's DuckDB file: source identities and the CRM sync state only
    lake: Path
    spark_dir: Path
    work: Path
    dagster: RunOutcome | None = None  # the Dagster run that loaded the lake and built the project on Spark

    def build_on_spark(self, *args: str) -> None:
        """`dbt <args>` on the spark target, in this process (the Spark session is created once, then reused)."""
        result = self.invoke_on_spark(*args)
        failed = [r.node.name for r in (result.result or []) if getattr(r, "status", None) in ("error", "fail")]
        assert result.success, f"dbt {' '.join(args)} on Spark failed: {failed or result.exception}"

    def invoke_on_spark(self, *args: str) -> Any:
        """dbt's result of `dbt <args>` on the spark target, whether it succeeded or not."""
        from dbt.cli.main import dbtRunner

        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(DBT_PROJECT),
                "--profiles-dir",
                str(DBT_PROJECT),
                "--target",
                "spark",
                "--vars",
                SPARK_TEST_VARS,
                "--target-path",
                str(self.work / "spark-target"),
                "--log-path",
                str(self.work / "spark-logs"),
            ]
        )


def spark_available() -> bool:
    return shutil.which("java") is not None and importlib.util.find_spec("pyspark") is not None


def spark_environment(patch: pytest.MonkeyPatch, company: SparkCompany) -> None:
    patch.setenv("CSOPS_TARGET", "spark")
    patch.setenv("CSOPS_WAREHOUSE", str(company.spark_warehouse))
    patch.setenv("CSOPS_DLT_PIPELINES_DIR", str(company.work / "lake-pipelines"))
    patch.setenv("CSOPS_LAKE", str(company.lake))
    patch.setenv("CSOPS_SPARK_DIR", str(company.spark_dir))


@pytest.fixture(scope="session")
def spark_company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCompany]:
    """The tiny sandbox loaded into DuckDB and into the lake, built on DuckDB (a dbt process) and on Spark."""
    require_service(spark_available(), "Java and pyspark (the csops[spark] extra) for the Spark engine")
    work = tmp_path_factory.mktemp("spark")
    sandbox = work / "sandbox"
    generate(sandbox, SANDBOX_SEED, resolve_scale("tiny"), SANDBOX_TODAY)
    # The search index lag off, as in the activation tests: the push's tasks are then read back by search at once.
    with running_server(sandbox, faults=[*UNTHROTTLED_FAULTS, "hubspot:search_lag:0"]) as url:
        company = SparkCompany(
            sandbox=sandbox,
            base_url=url,
            warehouse=work / "duckdb" / "warehouse.duckdb",
            spark_warehouse=work / "spark.duckdb",
            lake=work / "lake",
            spark_dir=work / "spark-dir",
            work=work,
        )
        patch = pytest.MonkeyPatch()  # undone before the tests run: they set the engine they need themselves
        try:
            point_at_sandbox(patch, sandbox, url, throttled=False)
            patch.setenv("CSOPS_WAREHOUSE", str(company.warehouse))
            patch.setenv("CSOPS_DLT_PIPELINES_DIR", str(work / "duckdb" / "pipelines"))
            ingest(warehouse=company.warehouse)
            reference = dbt(["build", "--vars", SPARK_TEST_VARS], work / "duckdb")
            assert reference.returncode == 0, reference.stdout[-3000:]

            spark_environment(patch, company)
            patch.setenv("CSOPS_HEALTH_HISTORY_DAYS", str(HEALTH_HISTORY_DAYS))
            patch.setenv("DAGSTER_HOME", str(work / "dagster"))  # instance_for sets it: undone with the rest
            # The whole graph as the nightly job runs it: dlt into the lake, the raw checks (Great Expectations on the
            # lake), dbt's seeds, models (their contracts enforced) and snapshot, publish, the CRM push. dbt's data
            # tests run on the DuckDB build; on Spark they would add about ten minutes (a Spark job each), and the
            # marts are compared by the tests.
            company.dagster = run_graph(instance=instance_for(work / "dagster"), quiet=True, dbt_tests=False)
            assert company.dagster.success, company.dagster.failed_steps
        finally:
            patch.undo()
        yield company
