"""Settings from the environment with pydantic-settings: one `CsopsSettings` model per area (the warehouse here,
the orchestration's in orchestration/settings.py, the CRM push's in activation/config.py), each field named by its
variable (`validation_alias`), typed and validated by pydantic instead of hand-written parsing.

`.env` is not read here: ingestion/env_file.py loads it into the environment first, filling only what the
environment does not set and never a source's endpoint or key on a sandbox run (pydantic-settings' own `.env`
support cannot leave those out). An empty variable counts as unset (its default applies).

A bad value is one line naming the variable, what it holds and what it accepts, e.g.
`CSOPS_TARGET must be duckdb, postgres or spark, not 'duckdbb'`: `read` raises the area's own error type with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from ingestion.errors import SourceConfigError


class SettingError(ValueError):
    """Base of the areas' own setting errors (activation's ConfigError, orchestration's SettingsError), so the CLI
    can print any bad setting as its one line."""


_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("csops_settings_environ", default=None)


class _EnvironSource(EnvSettingsSource):
    """The process environment, or the mapping `CsopsSettings.read` was given (tests, a benchmark's own env)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        return parse_env_vars(
            os.environ if environ is None else environ,
            self.case_sensitive,
            self.env_ignore_empty,
            self.env_parse_none_str,
        )


class CsopsSettings(BaseSettings):
    """Base of every area's settings: exact variable names, empty = unset, values frozen once read."""

    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True, populate_by_name=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvironSource(settings_cls)

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None, error: type[Exception] = SourceConfigError) -> Self:
        """The settings from `env` (default: the process environment); a bad value raises `error` in one line."""
        token = _ENVIRON.set(env)
        try:
            return cls()
        except ValidationError as exc:
            raise error(describe(exc)) from None
        finally:
            _ENVIRON.reset(token)


def describe(error: ValidationError) -> str:
    """The first problem of `error` in one line: the variable, its value and what it accepts."""
    problem = error.errors(include_url=False)[0]
    variable = ".".join(str(part) for part in problem["loc"]) or "a setting"
    value: Any = problem.get("input")
    if problem["type"] == "literal_error":
        allowed = " or ".join(part.strip("'") for part in problem["ctx"]["expected"].split("' or '"))
        allowed = allowed.replace("', '", ", ")
        return f"{variable} must be {allowed}, not {value!r}"
    message = problem["msg"].removeprefix("Value error, ")
    return f"{variable}={value!r}: {message[:1].lower()}{message[1:]}"


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


DEFAULT_WAREHOUSE = Path("data/warehouse.duckdb")
# DuckDB's limits when CSOPS_DUCKDB_* are not set (orchestration/resources.py uses the same defaults). Without a
# memory limit DuckDB takes up to 80% of the machine's RAM before it spills.
DEFAULT_MEMORY_LIMIT = "4GB"
DEFAULT_THREADS = 2
TARGETS = ("duckdb", "postgres", "spark")


class WarehouseSettings(CsopsSettings):
    """Where dlt loads and dbt builds: the DuckDB file (and dlt's working folder, the serving copy, the run logs
    beside it) or a Postgres database. Dagster's warehouse resource binds the same variables with EnvVar
    (orchestration/resources.py)."""

    warehouse: Path = Field(DEFAULT_WAREHOUSE, validation_alias="CSOPS_WAREHOUSE")
    dlt_pipelines_dir: Path | None = Field(None, validation_alias="CSOPS_DLT_PIPELINES_DIR")
    serving_warehouse: Path | None = Field(None, validation_alias="CSOPS_SERVING_WAREHOUSE")
    log_dir: Path | None = Field(None, validation_alias="CSOPS_LOG_DIR")
    target: Annotated[Literal["duckdb", "postgres", "spark"], BeforeValidator(_lower)] = Field(
        "duckdb", validation_alias="CSOPS_TARGET"
    )
    lake: str | None = Field(None, validation_alias="CSOPS_LAKE")  # spark target: a folder or object store URL
    spark_dir: Path | None = Field(None, validation_alias="CSOPS_SPARK_DIR")  # spark target: catalog and tables
    pg_host: str = Field("127.0.0.1", validation_alias="CSOPS_PG_HOST")
    pg_port: int = Field(5432, validation_alias="CSOPS_PG_PORT")
    pg_user: str = Field("postgres", validation_alias="CSOPS_PG_USER")
    pg_password: SecretStr = Field(SecretStr(""), validation_alias="CSOPS_PG_PASSWORD")
    pg_database: str = Field("test", validation_alias="CSOPS_PG_DATABASE")
    duckdb_memory_limit: str = Field(DEFAULT_MEMORY_LIMIT, validation_alias="CSOPS_DUCKDB_MEMORY_LIMIT")
    duckdb_threads: int = Field(DEFAULT_THREADS, ge=1, validation_alias="CSOPS_DUCKDB_THREADS")
    duckdb_temp_directory: Path | None = Field(None, validation_alias="CSOPS_DUCKDB_TEMP_DIRECTORY")

    def postgres_url(self) -> str:
        return (
            f"postgresql://{self.pg_user}:{self.pg_password.get_secret_value()}@{self.pg_host}:{self.pg_port}"
            f"/{self.pg_database}"
        )


class RetrySettings(CsopsSettings):
    """How long one vendor request keeps retrying (ingestion/retry.py); dlt's RUNTIME__* settings are dlt's."""

    budget_seconds: float = Field(300.0, gt=0, validation_alias="CSOPS_RETRY_BUDGET_SECONDS")
