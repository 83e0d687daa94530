"""Generate the sandbox world (and advance its clock): simulate, render as of today, write files and ground
truth."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sandbox.generator.billing import FxTable, catalogue, mrr_truth_rows, stripe_id
from sandbox.generator.calendar import at_midnight
from sandbox.generator.company import (
    DECAY_DAYS,
    DUNNING_DAYS,
    SEGMENT_WEIGHTS,
    SEGMENTS,
    Account,
    Arrivals,
    Treatment,
    Window,
    simulate_account,
)
from sandbox.generator.crm import (
    COMPANY_ID_BASE,
    CONTACT_ID_BASE,
    LEAD_DAYS_MAX,
    CrmRenderer,
    csm_owners,
    owner_for,
)
from sandbox.generator.crm_untidy import Untidy, crm_truth
from sandbox.generator.csm_work import (
    LEDGER_FILE,
    PLAYBOOK_EFFECTS,
    WorkedTask,
    activity_rows,
    has_csops_tasks,
    read_ledger,
    treatments,
    truth_rows,
    work_tasks,
)
from sandbox.generator.stripe_rows import StripeRowRenderer
from sandbox.generator.surveys import responses
from sandbox.generator.usage import UsageModel, write_events
from sandbox.manifest import HORIZON_END, LAUNCH_DATE, Manifest, Scale, check_today

# The dbt project's FX seed is the one exchange-rate table both sides use; the sandbox is installed editable from
# this repository (a uv workspace member, sandbox/src/sandbox/generator/ -> the repository root is parents[4]).
FX_SEED = Path(__file__).resolve().parents[4] / "dbt_project" / "seeds" / "fx_rates_monthly.csv"

TS = pa.timestamp("us", tz="UTC")
STR, INT, FLOAT, BOOL, DATE = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.date32()
SCHEMAS: dict[str, pa.Schema] = {
    "hubspot_owners": pa.schema(
        [
            ("id", STR),
            ("email", STR),
            ("firstName", STR),
            ("lastName", STR),
            ("userId", INT),
            ("team", STR),
            ("createdAt", TS),
            ("updatedAt", TS),
            ("archived", BOOL),
        ]
    ),
    "hubspot_companies": pa.schema(
        [
            ("id", STR),
            ("name", STR),
            ("domain", STR),
            ("industry", STR),
            ("numberofemployees", INT),
            ("country", STR),
            ("lifecyclestage", STR),
            ("hubspot_owner_id", STR),
            ("account_id", STR),
            ("cs_segment", STR),
            ("createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("hs_merged_object_ids", STR),
            ("archived", BOOL),
        ]
    ),
    "hubspot_contacts": pa.schema(
        [
            ("id", STR),
            ("company_id", STR),
            ("email", STR),
            ("firstname", STR),
            ("lastname", STR),
            ("jobtitle", STR),
            ("cs_is_champion", STR),
            ("cs_left_company", STR),
            ("cs_left_company_date", DATE),
            ("createdate", TS),
            ("lastmodifieddate", TS),
            ("hs_merged_object_ids", STR),
            ("archived", BOOL),
        ]
    ),
    "hubspot_deals": pa.schema(
        [
            ("id", STR),
            ("company_id", STR),
            ("dealname", STR),
            ("amount", FLOAT),
            ("dealstage", STR),
            ("pipeline", STR),
            ("dealtype", STR),
            ("cs_deal_kind", STR),
            ("closedate", TS),
            ("hubspot_owner_id", STR),
            ("createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("hs_merged_object_ids", STR),
            ("archived", BOOL),
        ]
    ),
    "hubspot_tickets": pa.schema(
        [
            ("id", STR),
            ("company_id", STR),
            ("subject", STR),
            ("content", STR),
            ("hs_pipeline", STR),
            ("hs_pipeline_stage", STR),
            ("hs_ticket_priority", STR),
            ("closed_date", TS),
            ("hubspot_owner_id", STR),
            ("createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("hs_merged_object_ids", STR),
            ("archived", BOOL),
        ]
    ),
    "hubspot_company_associations": pa.schema(
        [
            ("object_type", STR),
            ("object_id", STR),
            ("company_id", STR),
            ("type_id", INT),
            ("category", STR),
            ("label", STR),
        ]
    ),
    "hubspot_merges": pa.schema([("object_type", STR), ("loser_id", STR), ("survivor_id", STR), ("merged_at", TS)]),
    "hubspot_engagements": pa.schema(
        [
            ("id", STR),
            ("object_type", STR),
            ("company_id", STR),
            ("contact_id", STR),
            ("hubspot_owner_id", STR),
            ("hs_timestamp", TS),
            ("title", STR),
            ("body", STR),
            ("hs_createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("archived", BOOL),
        ]
    ),
    "stripe_customers": pa.schema(
        [
            ("id", STR),
            ("account_id", STR),
            ("name", STR),
            ("email", STR),
            ("currency", STR),
            ("created", INT),
            ("address_country", STR),
            ("delinquent", BOOL),
            ("updated", INT),
            ("deleted_at", INT),  # DELETE /v1/customers/{id}: no longer listed, retrieved as a stub
        ]
    ),
    "stripe_products": pa.schema([("id", STR), ("name", STR), ("active", BOOL), ("created", INT)]),
    "stripe_prices": pa.schema(
        [
            ("id", STR),
            ("product", STR),
            ("currency", STR),
            ("unit_amount", INT),
            ("type", STR),
            ("recurring_interval", STR),
            ("recurring_interval_count", INT),
            ("recurring_usage_type", STR),
            ("nickname", STR),
            ("lookup_key", STR),
            ("active", BOOL),
            ("created", INT),
            ("archived_at", INT),  # active false since then, still billed to the subscriptions on it
        ]
    ),
    "stripe_coupons": pa.schema(
        [
            ("id", STR),
            ("name", STR),
            ("percent_off", FLOAT),
            ("amount_off", INT),
            ("currency", STR),
            ("duration", STR),
            ("duration_in_months", INT),
            ("valid", BOOL),
            ("created", INT),
            ("deleted_at", INT),  # DELETE /v1/coupons/{id}: gone from the API, still embedded in its discounts
        ]
    ),
    "stripe_discounts": pa.schema(
        [("id", STR), ("coupon", STR), ("customer", STR), ("subscription", STR), ("start", INT), ("end", INT)]
    ),
    "stripe_subscriptions": pa.schema(
        [
            ("id", STR),
            ("customer", STR),
            ("status", STR),
            ("currency", STR),
            ("created", INT),
            ("start_date", INT),
            ("billing_cycle_anchor", INT),
            ("trial_start", INT),
            ("trial_end", INT),
            ("cancel_at_period_end", BOOL),
            ("cancel_at", INT),
            ("canceled_at", INT),
            ("ended_at", INT),
            ("cancellation_reason", STR),
            ("collection_method", STR),
            ("latest_invoice", STR),
            ("discount_ids", STR),
            ("updated", INT),
        ]
    ),
    "stripe_subscription_items": pa.schema(
        [
            ("id", STR),
            ("subscription", STR),
            ("price", STR),
            ("quantity", INT),
            ("current_period_start", INT),
            ("current_period_end", INT),
            ("created", INT),
        ]
    ),
    "stripe_invoices": pa.schema(
        [
            ("id", STR),
            ("number", STR),
            ("customer", STR),
            ("subscription", STR),
            ("status", STR),
            ("billing_reason", STR),
            ("currency", STR),
            ("created", INT),
            ("period_start", INT),
            ("period_end", INT),
            ("due_date", INT),
            ("subtotal", INT),
            ("tax", INT),
            ("total", INT),
            ("amount_due", INT),
            ("amount_paid", INT),
            ("amount_remaining", INT),
            ("attempt_count", INT),
            ("finalized_at", INT),
            ("paid_at", INT),
            ("voided_at", INT),
            ("marked_uncollectible_at", INT),
            ("updated", INT),
        ]
    ),
    "stripe_invoice_lines": pa.schema(
        [
            ("id", STR),
            ("invoice", STR),
            ("currency", STR),
            ("amount", INT),
            ("description", STR),
            ("quantity", INT),
            ("period_start", INT),
            ("period_end", INT),
            ("price", STR),
            ("product", STR),
            ("parent_type", STR),
            ("subscription", STR),
            ("subscription_item", STR),
            ("invoice_item", STR),
            ("proration", BOOL),
            ("discount_amounts", STR),
            ("tax_amount", INT),
            ("unit_amount_decimal", STR),
        ]
    ),
    "stripe_events": pa.schema(
        [
            ("id", STR),
            ("type", STR),
            ("created", INT),
            ("object_type", STR),
            ("object_id", STR),
            ("previous_attributes", STR),
        ]
    ),
    "typeform_responses": pa.schema(
        [
            ("response_id", STR),
            ("form_id", STR),
            ("landed_at", TS),
            ("submitted_at", TS),
            ("account_id", STR),
            ("email", STR),
            ("score", INT),
            ("comment", STR),
            ("visible_at", TS),
        ]
    ),
}
STRIPE_DELETIONS_SCHEMA = pa.schema(
    [("object_type", STR), ("object_id", STR), ("account_id", STR), ("story", STR), ("deleted_at", TS)]
)
CRM_TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "hubspot_deletions": pa.schema([("object_type", STR), ("object_id", STR), ("archived_at", TS)]),
    "hubspot_merges": SCHEMAS["hubspot_merges"],
    "hubspot_company_attribution": pa.schema(
        [
            ("object_type", STR),
            ("object_id", STR),
            ("company_id", STR),
            ("has_primary_label", BOOL),
            ("companies", INT),
        ]
    ),
}
TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema(
        [
            ("account_id", STR),
            ("hubspot_company_id", STR),
            ("stripe_customer_id", STR),
            ("segment", STR),
            ("currency", STR),
            ("signup_date", DATE),
            ("owner_id", STR),
            ("onboarding_stalled", BOOL),
        ]
    ),
    "mrr_monthly": pa.schema(
        [
            ("account_id", STR),
            ("month", DATE),
            ("currency", STR),
            ("mrr_local", FLOAT),
            ("mrr_usd", FLOAT),
            ("movement_type", STR),
            ("movement_usd", FLOAT),
        ]
    ),
    "churn_events": pa.schema(
        [("account_id", STR), ("subscription_id", STR), ("event", STR), ("on_date", DATE), ("reason", STR)]
    ),
    "champions": pa.schema([("account_id", STR), ("contact_id", STR), ("left_on", DATE)]),
}
PLAYBOOK_TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "playbook_tasks": pa.schema(
        [
            ("task_id", STR),
            ("task_key", STR),
            ("account_id", STR),
            ("playbook_slug", STR),
            ("true_health_lift", FLOAT),
            ("true_churn_factor", FLOAT),
            ("owner_id", STR),
            ("was_reassigned", BOOL),
            ("created_on", DATE),
            ("status", STR),
            ("completed_at", TS),
            ("deleted_at", TS),
            ("was_customer_at_creation", BOOL),
            ("is_customer_90d", BOOL),
            ("is_customer_90d_without_playbook", BOOL),
        ]
    ),
    "playbook_effects": pa.schema([("playbook_slug", STR), ("true_health_lift", FLOAT), ("true_churn_factor", FLOAT)]),
}
CSV_COLUMNS = ("response_id", "submitted_at", "account_id", "email", "score", "comment")

Progress = Callable[[str, int, int], None]


def load_fx() -> FxTable:
    rates = {}
    with FX_SEED.open() as handle:
        for row in csv.DictReader(handle):
            rates[(date.fromisoformat(row["month"]), row["currency"])] = float(row["usd_per_unit"])
    return FxTable(rates)


# Stories are decided this far beyond the last day rendered: what is visible at a cut-off can depend on
# decisions taken up to ~140 days later (usage fades before a churn, dunning), and everything decided before
# the story horizon is the same whatever the horizon (company.py), so the margin only has to cover that.
STORY_MARGIN_DAYS = 150
assert DECAY_DAYS[1] + DUNNING_DAYS < STORY_MARGIN_DAYS, "the margin must cover the longest look-ahead"


def simulate(
    manifest: Manifest, treated: dict[int, tuple[Treatment, ...]] | None = None
) -> tuple[Window, list[Account]]:
    """Every account that signed up before the cut-off (and the leads about to), or within the scale's
    reference history (which calibrates the event rate), numbered 1..n in sign-up order; `treated` are the
    playbooks CSMs completed, per account number (csm_work.py)."""
    treated = treated or {}
    scale = manifest.scale_spec
    reference_end = manifest.start_date + timedelta(days=scale.history_days)
    limit = at_midnight(max(manifest.today + timedelta(days=LEAD_DAYS_MAX + 1), reference_end))
    window = Window(manifest.start_date, limit.date() + timedelta(days=STORY_MARGIN_DAYS))
    arrivals = Arrivals(scale.accounts, scale.history_days)
    accounts: list[Account] = []
    while (
        account := simulate_account(
            len(accounts) + 1, manifest.seed, window, arrivals, treated.get(len(accounts) + 1, ())
        )
    ).signup < limit:
        accounts.append(account)
    return window, accounts


def generate(
    out: Path,
    seed: int,
    scale: Scale,
    today: date,
    events_format: str = "parquet",
    progress: Progress | None = None,
) -> Manifest:
    """A new sandbox in `out` (replacing any sandbox there, but keeping nothing of its CRM writes)."""
    if events_format not in ("parquet", "jsonl"):
        raise ValueError(f"events format must be parquet or jsonl, not {events_format!r}")
    check_today(today)
    for sub in ("world", "events", "truth", "surveys_csv"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "crm.sqlite").unlink(missing_ok=True)
    (out / LEDGER_FILE).unlink(missing_ok=True)
    manifest = Manifest(
        seed=seed,
        scale=scale.name,
        accounts=scale.accounts,
        events=scale.events,
        history_days=scale.history_days,
        start_date=LAUNCH_DATE,
        today=today,
        horizon_end=HORIZON_END,
        events_format=events_format,
    )
    out.mkdir(parents=True, exist_ok=True)
    render(out, manifest, first_event_day=0, progress=progress)
    manifest.write(out)
    return manifest


def advance(out: Path, days: int, progress: Progress | None = None) -> Manifest:
    """Move the sandbox's today forward: the next `days` days happen (new events, changes, tickets,
    surveys, and the CSMs work the tasks csops created in the CRM)."""
    manifest = Manifest.read(out)
    if days < 1:
        raise ValueError("advance needs --days >= 1")
    new_today = manifest.today + timedelta(days=days)
    if new_today > manifest.horizon_end:
        raise ValueError(f"the sandbox is simulated up to {manifest.horizon_end}; it cannot advance to {new_today}")
    old_day = (manifest.today - manifest.start_date).days
    ledger = read_ledger(out)
    if has_csops_tasks(out):
        if progress:
            progress("CSMs working their tasks", 0, 1)
        _, accounts = simulate(manifest, treatments(ledger))
        owners = csm_team(manifest)
        owner_of = {a.num: owner_for(a, owners)["id"] for a in accounts}
        ledger = work_tasks(out, manifest.seed, manifest.today, new_today, accounts, owners, owner_of)
        if progress:
            progress("CSMs working their tasks", 1, 1)
    manifest.today = new_today
    render(out, manifest, first_event_day=old_day, progress=progress, ledger=ledger)
    manifest.write(out)
    return manifest


def csm_team(manifest: Manifest) -> dict[str, list[dict]]:
    """The CSM teams (owners) per segment: sized from the scale's nominal accounts, the same whatever today is."""
    per_segment = {
        segment: round(manifest.accounts * weight) for segment, weight in zip(SEGMENTS, SEGMENT_WEIGHTS, strict=True)
    }
    return csm_owners(manifest.seed, per_segment, at_midnight(manifest.start_date))


def render(
    out: Path,
    manifest: Manifest,
    first_event_day: int,
    progress: Progress | None = None,
    ledger: dict[int, WorkedTask] | None = None,
) -> None:
    """Write everything visible at the manifest's today; event files only for received days from
    `first_event_day` (the ones before are already there and never change). `ledger` is what the CSMs did with
    csops' tasks (read from the sandbox when not given)."""

    def step(name: str, done: int, total: int) -> None:
        if progress:
            progress(name, done, total)

    step("simulating accounts", 0, 1)
    ledger = read_ledger(out) if ledger is None else ledger
    treated = treatments(ledger)
    window, accounts = simulate(manifest, treated)
    cutoff = at_midnight(manifest.today)
    step("simulating accounts", 1, 1)
    owners = csm_team(manifest)
    step("rendering CRM, billing, surveys", 0, 1)
    write_world(out, manifest, window, accounts, owners, cutoff, ledger)
    write_truth(out / "truth", manifest, [a for a in accounts if a.signup < cutoff], owners, cutoff, load_fx())
    write_playbook_truth(out / "truth", manifest, window, accounts, ledger, treated)
    step("rendering CRM, billing, surveys", 1, 1)

    step("usage events", 0, 1)
    cutoff_day = (manifest.today - manifest.start_date).days
    reference_days = manifest.scale_spec.history_days
    model = UsageModel(
        accounts, window, manifest.seed, max(cutoff_day, reference_days), reference_days, manifest.events
    )
    write_events(
        model,
        out / "events",
        out / "truth",
        first_event_day,
        cutoff_day,
        manifest.events_format,
        progress=(lambda d, n: step("usage events", d, n)),
    )


def write_world(
    out: Path,
    manifest: Manifest,
    window: Window,
    accounts: list[Account],
    owners: dict[str, list[dict]],
    cutoff: datetime,
    ledger: dict[int, WorkedTask] | None = None,
) -> None:
    """The vendor tables (`world/`) and the survey CSVs, one system at a time so its rows are freed early."""
    world = out / "world"
    world.mkdir(parents=True, exist_ok=True)

    def write(tables: dict[str, list[dict]]) -> None:
        for name, rows in tables.items():
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS[name]), world / f"{name}.parquet")

    write({"hubspot_owners": [o for team in owners.values() for o in team]})
    crm = Untidy(manifest.seed, cutoff, CrmRenderer(manifest.seed, window, cutoff, owners).render(accounts)).apply()
    deletions = crm.pop("hubspot_deletions")
    crm["hubspot_engagements"] += activity_rows(ledger or {}, cutoff, CONTACT_ID_BASE)
    write(crm)
    write_crm_truth(out / "truth", crm, deletions)
    del crm
    stripe = StripeRowRenderer(manifest.seed, cutoff)
    for account in accounts:
        stripe.render_account(account)
    tables = {**stripe.tables, **catalogue(manifest.seed, cutoff)}
    write_stripe_deletions_truth(out / "truth", tables)
    product_of_price = {p["id"]: p["product"] for p in tables["stripe_prices"]}
    for line in tables["stripe_invoice_lines"]:
        line["product"] = product_of_price[line["price"]]
    tables["stripe_events"].sort(key=lambda e: (e["created"], e["id"]))
    write(tables)
    del stripe, tables
    typeform, csv_rows = responses(accounts, window, manifest.seed, manifest.typeform_form_id, cutoff)
    write({"typeform_responses": typeform})
    write_survey_csv(out / "surveys_csv", csv_rows)


def write_crm_truth(folder: Path, crm: dict[str, list[dict]], deletions: list[dict]) -> None:
    """Deletions, merges and company attribution of the HubSpot records (see `crm_untidy`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in crm_truth(crm, deletions).items():
        pq.write_table(pa.Table.from_pylist(rows, schema=CRM_TRUTH_SCHEMAS[name]), folder / f"{name}.parquet")


def write_stripe_deletions_truth(folder: Path, tables: dict[str, list[dict]]) -> None:
    """Customers deleted (by story), prices archived and coupons deleted before the cut-off (see
    `stripe_untidy`), one row each: `stripe_deletions.parquet`."""
    rows = tables.pop("stripe_deletions")
    for kind, table, column, story in (
        ("price", "stripe_prices", "archived_at", "archived"),
        ("coupon", "stripe_coupons", "deleted_at", "deleted"),
    ):
        for row in tables[table]:
            if row[column] is not None:
                moment = datetime.fromtimestamp(row[column], UTC)
                rows.append(
                    {
                        "object_type": kind,
                        "object_id": row["id"],
                        "account_id": None,
                        "story": story,
                        "deleted_at": moment,
                    }
                )
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=STRIPE_DELETIONS_SCHEMA), folder / "stripe_deletions.parquet")


def write_survey_csv(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    by_month: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["submitted_at"], r["response_id"])):
        by_month.setdefault(row["submitted_at"].strftime("%Y_%m"), []).append(row)
    for month, month_rows in by_month.items():
        path = folder / f"responses_{month}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for row in month_rows:
                writer.writerow(
                    [
                        row["response_id"],
                        row["submitted_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                        row["account_id"],
                        row["email"],
                        row["score"],
                        row["comment"] or "",
                    ]
                )


def write_truth(
    folder: Path, manifest: Manifest, accounts: list[Account], owners, cutoff: datetime, fx: FxTable
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = {name: [] for name in TRUTH_SCHEMAS}
    for account in accounts:
        rows["accounts"].append(
            {
                "account_id": account.account_id,
                "hubspot_company_id": str(COMPANY_ID_BASE + account.num),
                "stripe_customer_id": stripe_id("cus", manifest.seed, account.num),
                "segment": account.segment,
                "currency": account.currency,
                "signup_date": account.signup.date(),
                "owner_id": owner_for(account, owners)["id"],
                "onboarding_stalled": account.onboarding_stalled,
            }
        )
        had_mrr = False
        for sub in account.subscriptions:
            sub_id = stripe_id("sub", manifest.seed, account.num, sub.number)
            paid = [p for p in sub.periods if not p.is_trial]
            if paid and paid[0].start < cutoff:
                if had_mrr:
                    rows["churn_events"].append(
                        {
                            "account_id": account.account_id,
                            "subscription_id": sub_id,
                            "event": "reactivation",
                            "on_date": paid[0].start.date(),
                            "reason": "resubscribed",
                        }
                    )
                had_mrr = True
                if sub.ended_at is not None and sub.ended_at < cutoff:
                    rows["churn_events"].append(
                        {
                            "account_id": account.account_id,
                            "subscription_id": sub_id,
                            "event": "churn",
                            "on_date": sub.ended_at.date(),
                            "reason": sub.end_reason,
                        }
                    )
        rows["champions"].extend(champion_rows(account, cutoff))
    rows["mrr_monthly"] = mrr_truth_rows(accounts, manifest.start_date, cutoff, fx)
    for name, schema in TRUTH_SCHEMAS.items():
        pq.write_table(pa.Table.from_pylist(rows[name], schema=schema), folder / f"{name}.parquet")
    shutil.copyfile(FX_SEED, folder / "fx_rates_monthly.csv")
    (folder / "README.md").write_text(TRUTH_README.format(today=manifest.today))


def write_playbook_truth(
    folder: Path,
    manifest: Manifest,
    window: Window,
    accounts: list[Account],
    ledger: dict[int, WorkedTask],
    treated: dict[int, tuple[Treatment, ...]],
) -> None:
    """The csops tasks the CSMs worked and each completed playbook's true effect on its account (csm_work.py);
    the effect of a task is measured against the same account simulated again without that one treatment."""
    arrivals = Arrivals(manifest.scale_spec.accounts, manifest.scale_spec.history_days)

    def without(num: int, task: WorkedTask) -> Account:
        rest = tuple(t for t in treated.get(num, ()) if t.completed_at.isoformat() != _completed(task))
        return simulate_account(num, manifest.seed, window, arrivals, rest)

    tables = {
        "playbook_tasks": truth_rows(ledger, {a.num: a for a in accounts}, without),
        "playbook_effects": [
            {"playbook_slug": slug, "true_health_lift": lift, "true_churn_factor": factor}
            for slug, (lift, factor) in PLAYBOOK_EFFECTS.items()
        ],
    }
    for name, rows in tables.items():
        pq.write_table(pa.Table.from_pylist(rows, schema=PLAYBOOK_TRUTH_SCHEMAS[name]), folder / f"{name}.parquet")


def _completed(task: WorkedTask) -> str:
    return datetime.fromisoformat((task.completed_at or "").replace("Z", "+00:00")).isoformat()


def champion_rows(account: Account, cutoff: datetime) -> list[dict]:
    """Every champion the CRM shows at the cut-off, in order: contact 0 first, each replacement added after
    the account's original contacts (as crm.py numbers them); left_on is null while the champion is still
    there."""
    rows, k, since = [], 0, account.signup
    for j, (left, replaced) in enumerate([*account.champion_left, (None, None)]):
        if since >= cutoff:
            break
        gone = left is not None and left < cutoff
        rows.append(
            {
                "account_id": account.account_id,
                "contact_id": str(CONTACT_ID_BASE + account.num * 100 + k),
                "left_on": left.date() if gone else None,
            }
        )
        if not gone or replaced is None:
            break
        k, since = account.contacts + j, replaced
    return rows


TRUTH_README = """# Ground truth (as of {today})

What the simulation did, for tests to check the pipeline against; the product never reads these files.
Formats are documented in sandbox/README.md ("Ground truth"). `usage_daily/` holds one file per event day.
"""
