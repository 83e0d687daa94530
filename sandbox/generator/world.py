"""Generate the sandbox world (and advance its clock): simulate, render as of today, write files and ground truth."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sandbox.generator.billing import FxTable, StripeRenderer, catalogue, mrr_truth_rows, stripe_id
from sandbox.generator.calendar import at_midnight
from sandbox.generator.company import (
    DECAY_DAYS,
    DUNNING_DAYS,
    SEGMENT_WEIGHTS,
    SEGMENTS,
    Account,
    Arrivals,
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
from sandbox.generator.surveys import responses
from sandbox.generator.usage import UsageModel, write_events
from sandbox.manifest import HORIZON_END, LAUNCH_DATE, Manifest, Scale, check_today

FX_SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "fx_rates_monthly.csv"

TS = pa.timestamp("us", tz="UTC")
S, I, F, B, D = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.date32()
SCHEMAS: dict[str, pa.Schema] = {
    "hubspot_owners": pa.schema(
        [
            ("id", S),
            ("email", S),
            ("firstName", S),
            ("lastName", S),
            ("userId", I),
            ("team", S),
            ("createdAt", TS),
            ("updatedAt", TS),
            ("archived", B),
        ]
    ),
    "hubspot_companies": pa.schema(
        [
            ("id", S),
            ("name", S),
            ("domain", S),
            ("industry", S),
            ("numberofemployees", I),
            ("country", S),
            ("lifecyclestage", S),
            ("hubspot_owner_id", S),
            ("account_id", S),
            ("cs_segment", S),
            ("createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("archived", B),
        ]
    ),
    "hubspot_contacts": pa.schema(
        [
            ("id", S),
            ("company_id", S),
            ("email", S),
            ("firstname", S),
            ("lastname", S),
            ("jobtitle", S),
            ("cs_is_champion", S),
            ("cs_left_company", S),
            ("cs_left_company_date", D),
            ("createdate", TS),
            ("lastmodifieddate", TS),
            ("archived", B),
        ]
    ),
    "hubspot_deals": pa.schema(
        [
            ("id", S),
            ("company_id", S),
            ("dealname", S),
            ("amount", F),
            ("dealstage", S),
            ("pipeline", S),
            ("dealtype", S),
            ("cs_deal_kind", S),
            ("closedate", TS),
            ("hubspot_owner_id", S),
            ("createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("archived", B),
        ]
    ),
    "hubspot_tickets": pa.schema(
        [
            ("id", S),
            ("company_id", S),
            ("subject", S),
            ("content", S),
            ("hs_pipeline", S),
            ("hs_pipeline_stage", S),
            ("hs_ticket_priority", S),
            ("closed_date", TS),
            ("hubspot_owner_id", S),
            ("createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("archived", B),
        ]
    ),
    "hubspot_engagements": pa.schema(
        [
            ("id", S),
            ("object_type", S),
            ("company_id", S),
            ("contact_id", S),
            ("hubspot_owner_id", S),
            ("hs_timestamp", TS),
            ("title", S),
            ("body", S),
            ("hs_createdate", TS),
            ("hs_lastmodifieddate", TS),
            ("archived", B),
        ]
    ),
    "stripe_customers": pa.schema(
        [
            ("id", S),
            ("account_id", S),
            ("name", S),
            ("email", S),
            ("currency", S),
            ("created", I),
            ("address_country", S),
            ("delinquent", B),
            ("updated", I),
        ]
    ),
    "stripe_products": pa.schema([("id", S), ("name", S), ("active", B), ("created", I)]),
    "stripe_prices": pa.schema(
        [
            ("id", S),
            ("product", S),
            ("currency", S),
            ("unit_amount", I),
            ("type", S),
            ("recurring_interval", S),
            ("recurring_interval_count", I),
            ("recurring_usage_type", S),
            ("nickname", S),
            ("lookup_key", S),
            ("active", B),
            ("created", I),
        ]
    ),
    "stripe_coupons": pa.schema(
        [
            ("id", S),
            ("name", S),
            ("percent_off", F),
            ("amount_off", I),
            ("currency", S),
            ("duration", S),
            ("duration_in_months", I),
            ("valid", B),
            ("created", I),
        ]
    ),
    "stripe_discounts": pa.schema(
        [("id", S), ("coupon", S), ("customer", S), ("subscription", S), ("start", I), ("end", I)]
    ),
    "stripe_subscriptions": pa.schema(
        [
            ("id", S),
            ("customer", S),
            ("status", S),
            ("currency", S),
            ("created", I),
            ("start_date", I),
            ("billing_cycle_anchor", I),
            ("trial_start", I),
            ("trial_end", I),
            ("cancel_at_period_end", B),
            ("cancel_at", I),
            ("canceled_at", I),
            ("ended_at", I),
            ("cancellation_reason", S),
            ("collection_method", S),
            ("latest_invoice", S),
            ("discount_ids", S),
            ("updated", I),
        ]
    ),
    "stripe_subscription_items": pa.schema(
        [
            ("id", S),
            ("subscription", S),
            ("price", S),
            ("quantity", I),
            ("current_period_start", I),
            ("current_period_end", I),
            ("created", I),
        ]
    ),
    "stripe_invoices": pa.schema(
        [
            ("id", S),
            ("number", S),
            ("customer", S),
            ("subscription", S),
            ("status", S),
            ("billing_reason", S),
            ("currency", S),
            ("created", I),
            ("period_start", I),
            ("period_end", I),
            ("due_date", I),
            ("subtotal", I),
            ("tax", I),
            ("total", I),
            ("amount_due", I),
            ("amount_paid", I),
            ("amount_remaining", I),
            ("attempt_count", I),
            ("finalized_at", I),
            ("paid_at", I),
            ("voided_at", I),
            ("marked_uncollectible_at", I),
            ("updated", I),
        ]
    ),
    "stripe_invoice_lines": pa.schema(
        [
            ("id", S),
            ("invoice", S),
            ("currency", S),
            ("amount", I),
            ("description", S),
            ("quantity", I),
            ("period_start", I),
            ("period_end", I),
            ("price", S),
            ("product", S),
            ("parent_type", S),
            ("subscription", S),
            ("subscription_item", S),
            ("invoice_item", S),
            ("proration", B),
            ("discount_amounts", S),
            ("tax_amount", I),
            ("unit_amount_decimal", S),
        ]
    ),
    "stripe_events": pa.schema(
        [
            ("id", S),
            ("type", S),
            ("created", I),
            ("object_type", S),
            ("object_id", S),
            ("previous_attributes", S),
        ]
    ),
    "typeform_responses": pa.schema(
        [
            ("response_id", S),
            ("form_id", S),
            ("landed_at", TS),
            ("submitted_at", TS),
            ("account_id", S),
            ("email", S),
            ("score", I),
            ("comment", S),
        ]
    ),
}
TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema(
        [
            ("account_id", S),
            ("hubspot_company_id", S),
            ("stripe_customer_id", S),
            ("segment", S),
            ("currency", S),
            ("signup_date", D),
            ("owner_id", S),
            ("onboarding_stalled", B),
        ]
    ),
    "mrr_monthly": pa.schema(
        [
            ("account_id", S),
            ("month", D),
            ("currency", S),
            ("mrr_local", F),
            ("mrr_usd", F),
            ("movement_type", S),
            ("movement_usd", F),
        ]
    ),
    "churn_events": pa.schema(
        [("account_id", S), ("subscription_id", S), ("event", S), ("on_date", D), ("reason", S)]
    ),
    "champions": pa.schema([("account_id", S), ("contact_id", S), ("left_on", D)]),
}
CSV_COLUMNS = ("response_id", "submitted_at", "account_id", "email", "score", "comment")

Progress = Callable[[str, int, int], None]


def load_fx() -> FxTable:
    rates = {}
    with FX_SEED.open() as handle:
        for row in csv.DictReader(handle):
            rates[(date.fromisoformat(row["month"]), row["currency"])] = float(row["usd_per_unit"])
    return FxTable(rates)


# Stories are decided this far beyond the last day rendered: what is visible at a cut-off can depend on decisions
# taken up to ~80 days later (usage fades before a churn), and everything decided before the story horizon is the
# same whatever the horizon (company.py), so the margin only has to cover that look-ahead.
STORY_MARGIN_DAYS = 150
assert STORY_MARGIN_DAYS > DECAY_DAYS[1] + DUNNING_DAYS, "the margin must cover the longest look-ahead"


def simulate(manifest: Manifest) -> tuple[Window, list[Account]]:
    """Every account that signed up before the cut-off (and the leads about to), or within the scale's reference
    history (which calibrates the event rate), numbered 1..n in sign-up order."""
    scale = manifest.scale_spec
    reference_end = manifest.start_date + timedelta(days=scale.history_days)
    limit = at_midnight(max(manifest.today + timedelta(days=LEAD_DAYS_MAX + 1), reference_end))
    window = Window(manifest.start_date, limit.date() + timedelta(days=STORY_MARGIN_DAYS))
    arrivals = Arrivals(scale.accounts, scale.history_days)
    accounts: list[Account] = []
    while (account := simulate_account(len(accounts) + 1, manifest.seed, window, arrivals)).signup < limit:
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
    manifest = Manifest(
        seed=seed,
        scale=scale.name,
        accounts=scale.accounts,
        events=scale.events,
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
    """Move the sandbox's today forward: the next `days` days happen (new events, changes, tickets, surveys)."""
    manifest = Manifest.read(out)
    if days < 1:
        raise ValueError("advance needs --days >= 1")
    new_today = manifest.today + timedelta(days=days)
    if new_today > manifest.horizon_end:
        raise ValueError(
            f"the sandbox is simulated up to {manifest.horizon_end}; it cannot advance to {new_today}"
        )
    old_day = (manifest.today - manifest.start_date).days
    manifest.today = new_today
    render(out, manifest, first_event_day=old_day, progress=progress)
    manifest.write(out)
    return manifest


def render(out: Path, manifest: Manifest, first_event_day: int, progress: Progress | None = None) -> None:
    """Write everything visible at the manifest's today; event files only for received days from
    `first_event_day` (the ones before are already there and never change)."""

    def step(name: str, done: int, total: int) -> None:
        if progress:
            progress(name, done, total)

    step("simulating accounts", 0, 1)
    window, accounts = simulate(manifest)
    cutoff = at_midnight(manifest.today)
    step("simulating accounts", 1, 1)
    per_segment = {
        segment: round(manifest.accounts * weight)
        for segment, weight in zip(SEGMENTS, SEGMENT_WEIGHTS, strict=True)
    }
    owners = csm_owners(manifest.seed, per_segment, at_midnight(manifest.start_date))
    step("rendering CRM, billing, surveys", 0, 1)
    write_world(out, manifest, window, accounts, owners, cutoff)
    write_truth(
        out / "truth", manifest, [a for a in accounts if a.signup < cutoff], owners, cutoff, load_fx()
    )
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
    out: Path, manifest: Manifest, window: Window, accounts: list[Account], owners, cutoff: datetime
):
    """The vendor tables (`world/`) and the survey CSVs, one system at a time so its rows are freed early."""
    world = out / "world"
    world.mkdir(parents=True, exist_ok=True)

    def write(tables: dict[str, list[dict]]) -> None:
        for name, rows in tables.items():
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS[name]), world / f"{name}.parquet")

    write({"hubspot_owners": [o for team in owners.values() for o in team]})
    write(CrmRenderer(manifest.seed, window, cutoff, owners).render(accounts))
    stripe = StripeRenderer(manifest.seed, cutoff)
    for account in accounts:
        stripe.render_account(account)
    tables = {**stripe.tables, **catalogue(manifest.seed)}
    product_of_price = {p["id"]: p["product"] for p in tables["stripe_prices"]}
    for line in tables["stripe_invoice_lines"]:
        line["product"] = product_of_price[line["price"]]
    tables["stripe_events"].sort(key=lambda e: (e["created"], e["id"]))
    write(tables)
    del stripe, tables
    typeform, csv_rows = responses(accounts, window, manifest.seed, manifest.typeform_form_id, cutoff)
    write({"typeform_responses": typeform})
    write_survey_csv(out / "surveys_csv", csv_rows)


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
        # The first champion is contact 0; each replacement is added after the account's original contacts.
        for j, (left, _) in enumerate(account.champion_left):
            if left < cutoff:
                k = 0 if j == 0 else account.contacts + j - 1
                rows["champions"].append(
                    {
                        "account_id": account.account_id,
                        "contact_id": str(CONTACT_ID_BASE + account.num * 100 + k),
                        "left_on": left.date(),
                    }
                )
    rows["mrr_monthly"] = mrr_truth_rows(accounts, manifest.start_date, cutoff, fx)
    for name, schema in TRUTH_SCHEMAS.items():
        pq.write_table(pa.Table.from_pylist(rows[name], schema=schema), folder / f"{name}.parquet")
    shutil.copyfile(FX_SEED, folder / "fx_rates_monthly.csv")
    (folder / "README.md").write_text(TRUTH_README.format(today=manifest.today))


TRUTH_README = """# Ground truth (as of {today})

What the simulation did, for tests to check the pipeline against; the product never reads these files.
Formats are documented in sandbox/README.md ("Ground truth"). `usage_daily/` holds one file per event day.
"""
