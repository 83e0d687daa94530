"""At risk: today's at-risk board (at_risk_accounts) with the task csops plans for each account (cs_playbook_tasks).

The serving copy holds what csops planned, not what CSMs did in the CRM: a task shows as planned with its due date
(overdue once past it); completion lives in the CRM.
"""

from __future__ import annotations

import streamlit as st

from dashboard.components import money, table
from dashboard.data import query

BOARD = """
select
    risk.priority_rank,
    risk.company_name,
    coalesce(risk.owner_name, 'Unassigned') as owner_name,
    risk.arr_at_stake_usd,
    risk.risk_reasons,
    risk.recommended_playbook,
    case
        when task.account_id is null then 'no task planned'
        when task.due_date < risk.as_of_date then 'overdue since ' || strftime(task.due_date, '%Y-%m-%d')
        else 'planned, due ' || strftime(task.due_date, '%Y-%m-%d')
    end as task_status,
    risk.health_status,
    risk.health_score,
    risk.health_change_30d,
    risk.renewal_date,
    risk.segment,
    task.task_title
from marts.at_risk_accounts as risk
left join marts.cs_playbook_tasks as task
    on task.account_id = risk.account_id and task.playbook = risk.recommended_playbook
order by risk.priority_rank
"""


def render() -> None:
    st.title("At-risk accounts")
    board = query(BOARD)
    totals = query("select count(*) as accounts, sum(arr_at_stake_usd) as arr from marts.at_risk_accounts").iloc[0]
    count, arr, planned = st.columns(3)
    count.metric("At-risk accounts", f"{int(totals['accounts']):,}")
    arr.metric("ARR at stake", money(totals["arr"]))
    planned.metric("With a task planned", f"{int((board['task_status'] != 'no task planned').sum()):,}")
    if board.empty:
        st.success("No account is at risk today.")
        return
    owners = sorted(board["owner_name"].unique())
    chosen = st.multiselect("Owner", owners, placeholder="All owners")
    shown = board[board["owner_name"].isin(chosen)] if chosen else board
    if chosen:
        st.caption(
            f"{len(shown):,} accounts, {money(shown['arr_at_stake_usd'].sum())} ARR at stake for the chosen owners"
        )
    table(shown, "at_risk_accounts", height=560, narrow=("risk_reasons",))
