"""The health score sees churn coming: over two years of simulated history, scored from observable data only,
a low score ranks the accounts that churn within the next 90 days above those that do not (ROC AUC >= 0.80),
better than any single component, and without calling every churner red (some churn is a surprise)."""

from __future__ import annotations

import pytest

from tests.dbt.health_auc import COMPONENTS, auc, snapshots
from tests.support import Company

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored_history(small_company: Company) -> list[dict]:
    """Monthly health snapshots of the small company with their labels (churned within 90 days, from the truth)."""
    return snapshots(small_company.warehouse, small_company.truth, small_company.today.isoformat())


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
