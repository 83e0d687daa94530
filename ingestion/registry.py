"""The source registry: one declaration per source, from which the pipelines, the Dagster assets, the benchmarks
and `csops status` all derive. Adding a source means one `SourceSpec` here plus its own module.

Order matters: sources are loaded in registry order (usage and surveys check accounts against CRM and billing, so
they come after them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingestion.event_copy import copy_named_files, give_up_unfinished_loads
from ingestion.hubspot import hubspot_source
from ingestion.settings import WarehouseSettings
from ingestion.stripe import stripe_source
from ingestion.surveys import surveys_source
from ingestion.usage import usage_source


@dataclass(frozen=True)
class SourceSpec:
    """What the rest of csops needs to know about a source.

    `build(known_accounts)` returns the configured dlt source (configuration and secrets from the environment via
    dlt); `known_accounts` is the callable that lists account ids already in the warehouse, for sources that screen
    rows by account. `shape()` returns the same source built with placeholder settings, so Dagster can declare
    assets without secrets. `tables` are the raw tables the source writes (its resources, nested tables aside).
    `after_load(pipeline, known_accounts)`, when set, runs after every successful load (its result goes into the run
    report; a `copied` count there is rows the step itself loaded). `on_full_refresh(pipeline)`, when set, runs when
    the source's cursors are forgotten (pipeline.forget_cursors), before the re-read. `wave_tables` are tables whose
    rows arrive in waves (a survey sent to every customer on one day, then quiet nights): the raw volume check judges
    a drop there but never a spike, which every wave would be (orchestration/raw_checks.py).
    """

    name: str
    description: str
    build: Callable[[Callable[[], list[str] | None]], Any]
    shape: Callable[[], Any]
    tables: tuple[str, ...]
    after_load: Callable[[Any, Callable[[], list[str] | None]], dict[str, Any]] | None = None
    on_full_refresh: Callable[[Any], Any] | None = None
    wave_tables: tuple[str, ...] = ()

    @property
    def dataset(self) -> str:
        """The raw dataset (schema) the source loads into: raw_<name>."""
        return f"raw_{self.name}"


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        name="hubspot",
        description="HubSpot CRM object (and the tasks csops created): listed whole on a first load, then searched "
        "by last-modified date.",
        build=lambda known_accounts: hubspot_source(),
        shape=lambda: hubspot_source(access_token="placeholder"),
        tables=(
            "owners",
            "companies",
            "contacts",
            "deals",
            "tickets",
            "notes",
            "calls",
            "meetings",
            "emails",
            "tasks",
        ),
    ),
    SourceSpec(
        name="stripe",
        description="Stripe billing object, incremental by creation time plus the event stream.",
        build=lambda known_accounts: stripe_source(),
        shape=lambda: stripe_source(api_key="placeholder"),
        tables=("products", "prices", "coupons", "customers", "subscriptions", "invoices", "events"),
    ),
    SourceSpec(
        name="usage",
        description="Segment track events from daily files, appended as received (dbt removes a messageId's copies).",
        # DuckDB reads local Parquet files itself, after the load (ingestion/event_copy.py).
        build=lambda known_accounts: usage_source(
            known_accounts=known_accounts(), warehouse_reads_files=WarehouseSettings.read().target == "duckdb"
        ),
        shape=lambda: usage_source(bucket_url="file:///placeholder"),
        tables=("events",),
        after_load=copy_named_files,
        on_full_refresh=give_up_unfinished_loads,
    ),
    SourceSpec(
        name="surveys",
        description="NPS survey responses (Typeform API or CSV exports).",
        build=lambda known_accounts: surveys_source(),
        shape=lambda: surveys_source(
            typeform_form_id="placeholder", typeform_token="placeholder", csv_url="file:///placeholder"
        ),
        tables=("typeform_responses", "csv_responses"),
        # NPS surveys go out in campaigns: thousands of responses in a day or two, then none for weeks.
        wave_tables=("typeform_responses", "csv_responses"),
    ),
)

BY_NAME: dict[str, SourceSpec] = {spec.name: spec for spec in SOURCES}
SOURCE_NAMES: tuple[str, ...] = tuple(spec.name for spec in SOURCES)
DATASETS: dict[str, str] = {spec.name: spec.dataset for spec in SOURCES}


def source_spec(name: str) -> SourceSpec:
    """The declaration of source `name`, or a clear error listing the known ones."""
    from ingestion.errors import SourceConfigError

    try:
        return BY_NAME[name]
    except KeyError:
        raise SourceConfigError(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}") from None
