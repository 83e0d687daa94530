"""Settings are read by pydantic-settings models, one per area: every variable they read is documented in
.env.example, and a bad value is one line naming the variable (the CLI prints it without a traceback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices

from activation.config import ConfigError, SyncConfig
from ingestion.errors import SourceConfigError
from ingestion.settings import CsopsSettings, RetrySettings, WarehouseSettings
from orchestration.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
AREAS = (WarehouseSettings, RetrySettings, Settings, SyncConfig)


def variables(model: type[CsopsSettings]) -> set[str]:
    names: set[str] = set()
    for field in model.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
    return names


def test_every_area_is_a_settings_model_and_every_variable_it_reads_is_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    read = set().union(*(variables(model) for model in AREAS))
    assert len(read) > 30  # the scan above does see the fields' variables
    assert read - documented == set()


@pytest.mark.parametrize(
    ("model", "error", "variable", "value", "message"),
    [
        (
            WarehouseSettings,
            SourceConfigError,
            "CSOPS_TARGET",
            "duckdbb",
            "CSOPS_TARGET must be duckdb, postgres or spark",
        ),
        (WarehouseSettings, SourceConfigError, "CSOPS_PG_PORT", "fivefourthreetwo", "CSOPS_PG_PORT='fivefour"),
        (RetrySettings, SourceConfigError, "CSOPS_RETRY_BUDGET_SECONDS", "-1", "greater than 0"),
        (Settings, SettingsError, "CSOPS_SCHEDULE_RUNNING", "maybe", "CSOPS_SCHEDULE_RUNNING='maybe'"),
        (Settings, SettingsError, "CSOPS_FRESHNESS_HOURS", "a day", "CSOPS_FRESHNESS_HOURS='a day'"),
        (SyncConfig, ConfigError, "ACTIVATION__HUBSPOT__RATE_LIMIT", "fast", "expected REQUESTS/SECONDS"),
        (SyncConfig, ConfigError, "CSOPS_SYNC_MAX_TASKS_PER_CSM", "-2", "must be 0 (no cap) or more"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    model: type[CsopsSettings], error: type[Exception], variable: str, value: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        model.read({variable: value}, error=error)
    text = str(raised.value)
    assert variable in text and message in text and "\n" not in text


def test_empty_means_the_default_and_the_given_mapping_is_all_that_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSOPS_TARGET", "postgres")
    assert WarehouseSettings.read().target == "postgres"
    assert WarehouseSettings.read({"CSOPS_TARGET": ""}).target == "duckdb"
    assert WarehouseSettings.read({"CSOPS_TARGET": " DuckDB "}).target == "duckdb"
