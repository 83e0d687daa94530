"""Which vendor account each source reads, recorded in the warehouse, so one warehouse never mixes two companies or
the sandbox with production.

Incremental state belongs to the account it was read from: pointed at another HubSpot portal, a warehouse would
ask only for what changed since the old portal's cursor, load almost nothing, report success, and hold two
companies at once. So the first load of a source records its identity in `csops_meta.source_identity`, and every
later load compares before it reads anything:

- HubSpot: the portal id (`GET /account-info/v3/details`), Stripe: the account id (`GET /v1/account`); one cheap
  request each. Typeform: the form id; CSV and usage files: the folder / bucket URL.
- What must match is the account (`account`). The base URL (`endpoint`) is recorded beside it and shown by
  `csops status`, but a new base URL for the same account is the same environment (HubSpot serves one portal on
  several hosts; the sandbox takes a new port each time it starts), so it is only updated.

A mismatch stops the run with a SourceIdentityError naming the source, both identities and the command that
starts a fresh warehouse. Configuration is resolved exactly as the dlt source resolves it (its own config spec and
sections), so the identity is that of what would be loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration import resolve_configuration

from ingestion import hubspot, stripe
from ingestion.errors import SourceError
from ingestion.http import vendor_client
from ingestion.surveys import surveys_source
from ingestion.usage import usage_source

META_SCHEMA = "csops_meta"
IDENTITY_TABLE = f"{META_SCHEMA}.source_identity"


class SourceIdentityError(SourceError):
    """The warehouse was loaded from another account than the one configured now."""


@dataclass(frozen=True)
class SourceIdentity:
    source: str
    endpoint: str  # where it is read (base URL, folder / bucket URL): shown, updated
    account: str  # whose data it is (portal id, account id, form id, folder): must stay the same

    def describe(self) -> str:
        return self.account if self.endpoint in self.account else f"{self.account} at {self.endpoint}"


def source_config(factory: Any) -> dict[str, Any]:
    """The configuration the dlt source `factory` would run with (environment, .dlt/ files, defaults)."""
    ref = factory.ref
    return dict(resolve_configuration(ref.SPEC(), sections=("sources", ref.section, ref.name)))


def _hubspot() -> SourceIdentity:
    config = source_config(hubspot.hubspot_source)
    client = vendor_client(hubspot.SOURCE, config["base_url"], config["access_token"], hubspot.TOKEN_VARIABLE)
    details = client.get("/account-info/v3/details")
    details.raise_for_status()
    return SourceIdentity("hubspot", config["base_url"].rstrip("/"), f"HubSpot portal {details.json()['portalId']}")


def _stripe() -> SourceIdentity:
    config = source_config(stripe.stripe_source)
    client = vendor_client(stripe.SOURCE, config["base_url"], config["api_key"], stripe.TOKEN_VARIABLE)
    # Pinned like every other Stripe request (the same version the source loads with).
    version = config.get("api_version") or stripe.STRIPE_API_VERSION
    account = client.get("/v1/account", headers={"Stripe-Version": version})
    account.raise_for_status()
    return SourceIdentity("stripe", config["base_url"].rstrip("/"), f"Stripe account {account.json()['id']}")


def _surveys() -> SourceIdentity:
    config = source_config(surveys_source)
    accounts, endpoints = [], []
    if config["typeform_form_id"]:
        accounts.append(f"Typeform form {config['typeform_form_id']}")
        endpoints.append(config["typeform_base_url"].rstrip("/"))
    if config["csv_url"]:
        accounts.append(f"CSV folder {config['csv_url'].rstrip('/')}")
        endpoints.append(config["csv_url"].rstrip("/"))
    return SourceIdentity("surveys", " + ".join(endpoints), " + ".join(accounts))


def _usage() -> SourceIdentity:
    bucket = str(source_config(usage_source)["bucket_url"]).rstrip("/")
    return SourceIdentity("usage", bucket, f"event files {bucket}")


READERS: dict[str, Callable[[], SourceIdentity]] = {
    "hubspot": _hubspot,
    "stripe": _stripe,
    "surveys": _surveys,
    "usage": _usage,
}


def fresh_warehouse_command(warehouse: Path, engine: str) -> str:
    """How to start a warehouse of its own for the new environment."""
    if engine == "postgres":
        return "CSOPS_PG_DATABASE=<a new database> csops run"
    return f"CSOPS_WAREHOUSE={warehouse.with_name('other.duckdb')} csops run"


def check_identity(name: str, pipeline: dlt.Pipeline, warehouse: Path, engine: str) -> SourceIdentity | None:
    """Compare source `name`'s configured identity with the one its warehouse recorded; record it on the first
    load, update the endpoint on later ones. Raises SourceIdentityError, before anything is read, on a
    mismatch."""
    reader = READERS.get(name)
    if reader is None:
        return None
    current = reader()
    now = datetime.now(UTC)
    with pipeline.sql_client() as client:
        client.execute_sql(f"create schema if not exists {META_SCHEMA}")
        client.execute_sql(
            f"create table if not exists {IDENTITY_TABLE} (source varchar primary key, endpoint varchar not null, "
            "account varchar not null, recorded_at timestamp with time zone not null, "
            "last_seen_at timestamp with time zone not null)"
        )
        rows = client.execute_sql(f"select endpoint, account from {IDENTITY_TABLE} where source = %s", name)
        if not rows:
            client.execute_sql(
                f"insert into {IDENTITY_TABLE} values (%s, %s, %s, %s, %s)",
                name,
                current.endpoint,
                current.account,
                now,
                now,
            )
            return current
        recorded = SourceIdentity(name, rows[0][0], rows[0][1])
        if recorded.account != current.account:
            raise SourceIdentityError(
                f"{name}: this warehouse ({warehouse if engine == 'duckdb' else engine}) holds data loaded from "
                f"{recorded.describe()}, but the configuration now points at {current.describe()}. One warehouse "
                "holds one environment; nothing was loaded. To load the new one, start a fresh warehouse: "
                f"`{fresh_warehouse_command(warehouse, engine)}`; or point the SOURCES__{name.upper()}__* "
                "variables back at the recorded account (if it is the same company's data at a new address, "
                f"forget the old one: delete from {IDENTITY_TABLE} where source = '{name}')."
            )
        client.execute_sql(
            f"update {IDENTITY_TABLE} set endpoint = %s, last_seen_at = %s where source = %s",
            current.endpoint,
            now,
            name,
        )
    return current
