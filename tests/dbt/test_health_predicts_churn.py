"""The health score sees churn coming: over two years of simulated history, scored from observable data only,
a low score ranks the accounts that churn within the next 90 days above those that do not (ROC AUC >= 0.80),
better than any single component, and without calling every churner red (some churn is a surprise)."""

from __future__ import annotations

from datetime import date

import pytest

from ingestion.pipeline import ingest
from sandbox.generator.world import generate
from sandbox.manifest import resolve_scale
from sandbox.server.app import running_server
from tests.dbt.health_auc import COMPONENTS, auc, snapshots
from tests.support import UNTHROTTLED_FAULTS, dbt, point_at_sandbox

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def scored_history(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The small company (1,000 accounts, two years), loaded and modelled; monthly health snapshots with labels."""
    root = tmp_path_factory.mktemp("auc")
    sandbox = root / "sandbox"
    generate(sandbox, 42, resolve_scale("small"), TODAY)
    warehouse = root / "warehouse.duckdb"
    patch = pytest.MonkeyPatch()
    patch.setenv("CSOPS_WAREHOUSE", str(warehouse))
    patch.setenv("CSOPS_DLT_PIPELINES_DIR", str(root / "dlt"))
    try:
        with running_server(sandbox, faults=UNTHROTTLED_FAULTS) as url:
            point_at_sandbox(patch, sandbox, url, throttled=False)  # this test is about the model
            ingest(warehouse=warehouse)
        result = dbt(["build", "--select", "+customer_health_daily"], root)
        assert result.returncode == 0, result.stdout[-3000:]
    finally:
        patch.undo()
    return snapshots(warehouse, sandbox / "truth", TODAY.isoformat())


def test_the_health_score_ranks_churners_first(scored_history: list[dict]) -> None:
    churners = sum(row["churns"] for row in scored_history)
    assert churners >= 100 and len(scored_history) >= 2000  # enough history for the figure to mean something
    assert auc(scored_history, "health_score") >= 0.80


def test_the_weighted_score_beats_every_single_component(scored_history: list[dict]) -> None:
    overall = auc(scored_history, "health_score")
    for component in COMPONENTS[1:]:
        assert auc(scored_history, component) < overall, component


def test_some_churn_stays_a_surprise(scored_history: list[dict]) -> None:
    churners = [row for row in scored_history if row["churns"]]
    green = sum(row["health_score"] >= 70 for row in churners) / len(churners)
    assert 0.02 <= green <= 0.6
