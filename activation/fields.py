"""The fields the sync owns in the CRM: the only account fields it may ever write (the allow-list), and the
task key that makes task creation idempotent. CRM adapters translate these neutral definitions (HubSpot:
custom company properties in the `csops` group; Salesforce: custom fields)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str  # number | text | textarea | bool | datetime | enum
    description: str
    options: tuple[str, ...] = ()


ACCOUNT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("cs_health_score", "CS health score", "number", "Customer health 0-100 (csops, customer_health_daily)."),
    FieldSpec(
        "cs_health_status",
        "CS health status",
        "enum",
        "Churn risk within 90 days learnt from history: red >= 25%, green <= 5%, yellow between (csops).",
        ("green", "yellow", "red"),
    ),
    FieldSpec("cs_health_change_30d", "CS health change (30 days)", "number", "Points gained or lost in 30 days."),
    FieldSpec("cs_risk_reasons", "CS risk reasons", "textarea", "Why the account is at risk, top three reasons."),
    FieldSpec("cs_at_risk", "CS at risk", "bool", "On tonight's at-risk list (csops at_risk_accounts)."),
    FieldSpec("cs_playbook", "CS playbook", "text", "The playbook recommended for an at-risk account."),
    FieldSpec("cs_arr", "CS ARR (USD)", "number", "Annual recurring revenue in USD as billed (csops)."),
    FieldSpec("cs_synced_at", "CS synced at", "datetime", "When csops last wrote the cs_ fields of this record."),
)
# The allow-list: the sync never writes any other account field (enforced by the planner and by every adapter).
ALLOWED_ACCOUNT_FIELDS: frozenset[str] = frozenset(f.name for f in ACCOUNT_FIELDS)
# Fields compared to decide whether a row changed (cs_synced_at is written with every change, never compared).
DIFF_FIELDS: tuple[str, ...] = tuple(f.name for f in ACCOUNT_FIELDS if f.name != "cs_synced_at")
# What the circuit breaker watches.
FLIP_FIELDS: tuple[str, ...] = ("cs_health_status", "cs_at_risk")

TASK_KEY_FIELD = FieldSpec(
    "csops_task_key",
    "csops task key",
    "text",
    "account:playbook key of a task created by csops (used to never create a duplicate).",
)


class DisallowedFieldError(ValueError):
    """Something tried to write an account field outside the allow-list."""


def check_allowed(names: object) -> None:
    bad = sorted(set(names) - ALLOWED_ACCOUNT_FIELDS)  # type: ignore[call-overload]
    if bad:
        raise DisallowedFieldError(
            f"refusing to write {', '.join(bad)}: the sync only writes {', '.join(sorted(ALLOWED_ACCOUNT_FIELDS))}"
        )
