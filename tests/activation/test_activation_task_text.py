"""Customer text in task titles and bodies is shown as written: never taken for a placeholder, never run as HTML.
Read back through the sandbox's HubSpot API, as a CSM's CRM would show it."""

from __future__ import annotations

from pathlib import Path

import pytest
from activation_support import Account, Sandbox, Task, query, write_marts

from activation import SyncConfig, run_sync
from activation.crm.hubspot import html_body
from activation.model import task_key
from activation.templates import PLACEHOLDERS, TemplateError, render

HOSTILE_COMPANY = "Acme {arr} <script>alert(1)</script>"
HOSTILE_REASON = 'NPS 2 on 2026-10-30: "{reasons} & {company} are <b>broken</b>"'
VALUES = dict.fromkeys(PLACEHOLDERS, "")


def test_placeholders_inside_values_are_inserted_as_they_are() -> None:
    values = {**VALUES, "company": "Acme {arr}", "reasons": "{reasons} {company}", "arr": "$12000"}
    text = render("{company}: ARR {arr}. Why now: {reasons}", values, playbook="Renewal rescue")
    assert text == "Acme {arr}: ARR $12000. Why now: {reasons} {company}"
    assert render("{{literal}} {company}", values, playbook="x") == "{literal} Acme {arr}"


@pytest.mark.parametrize(
    ("template", "named"),
    [("Call {company} about {balance}", "{balance}"), ("ARR {arr:,}", "{arr:,}"), ("Call {company", "malformed")],
)
def test_a_template_the_mart_cannot_fill_is_an_error_naming_the_playbook(template: str, named: str) -> None:
    with pytest.raises(TemplateError) as error:
        render(template, VALUES, playbook="Billing outreach")
    assert "'Billing outreach'" in str(error.value) and named in str(error.value)


def test_the_task_body_is_html_with_customer_markup_escaped_and_our_line_breaks_kept() -> None:
    assert html_body('<script>alert("x")</script> & co\n\nkey a:b') == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co<br><br>key a:b"
    )


def test_hostile_company_names_and_comments_reach_the_crm_as_literal_text(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    company_id, account_id, owner_id = companies[0]
    account = Account(account_id, company_id, owner_id, arr=48_000.0).risky()
    task = Task(
        account_id,
        company_id,
        owner_id,
        "Detractor follow-up",
        "detractor",
        6,
        True,
        title_template="{playbook}: {{company}}",
        body_template="A detractor answered at {{company}} (ARR {{arr}}).\nWhy now: {{reasons}}",
        reasons=HOSTILE_REASON,
    )
    warehouse = write_marts(
        tmp_path / "wh.duckdb", [account], tasks=[task], company_names={account_id: HOSTILE_COMPANY}
    )
    report = run_sync(warehouse, config=sync_config, log=lambda _: None)
    assert report.ok, report.summary_lines()

    [created] = [t["properties"] for t in sandbox.tasks()]
    assert created["csops_task_key"] == task_key(account_id, "Detractor follow-up")
    assert created["hs_task_subject"] == f"Detractor follow-up: {HOSTILE_COMPANY}"  # plain text, as written
    body = created["hs_task_body"]
    assert body.startswith(
        "A detractor answered at Acme {arr} &lt;script&gt;alert(1)&lt;/script&gt; (ARR $48000).<br>Why now: "
        "NPS 2 on 2026-10-30: &quot;{reasons} &amp; {company} are &lt;b&gt;broken&lt;/b&gt;&quot;<br><br>Playbook: "
    )
    assert "<script" not in body and "<b>" not in body and body.count("$48000") == 1


def test_an_unknown_placeholder_in_the_playbooks_blocks_the_push_before_anything_is_written(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    company_id, account_id, owner_id = companies[0]
    task = Task(account_id, company_id, owner_id, "Billing outreach", "payment_past_due", 1, True)
    task = Task(**{**task.__dict__, "body_template": "Collect {{balance_due}} from {{company}}"})
    warehouse = write_marts(tmp_path / "wh.duckdb", [Account(account_id, company_id, owner_id).risky()], tasks=[task])
    report = run_sync(warehouse, config=sync_config, log=lambda _: None)
    assert report.status == "blocked" and not report.ok
    assert "'Billing outreach'" in report.halted_reason and "{balance_due}" in report.halted_reason
    assert sandbox.writes() == 0
    assert query(warehouse, "select status from activation.sync_runs") == [("blocked",)]
