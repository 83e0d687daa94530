"""The dashboard's pages: the core ones over the marts every build publishes, and a page per planning mart that only
appears once that mart is in the serving copy (planning marts land over time; a page must not fail for lack of one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import streamlit as st

from dashboard.views import at_risk, csm_books, health, mrr, planning, renewals, retention


@dataclass(frozen=True)
class View:
    """A page. No icons: Streamlit fetches a page's Material icon from fonts.gstatic.com for the favicon, and the
    dashboard must not reach out of the machine."""

    title: str
    url_path: str
    render: Callable[[], None]

    def streamlit_page(self) -> st.Page:
        return st.Page(self.render, title=self.title, url_path=self.url_path)


CORE_PAGES = [
    View("MRR", "mrr", mrr.render),
    View("Retention", "retention", retention.render),
    View("Health", "health", health.render),
    View("At risk", "at-risk", at_risk.render),
    View("Renewals", "renewals", renewals.render),
    View("CSM books", "csm-books", csm_books.render),
]
# Planning marts shown inside a core page when present, so they get no page of their own.
SHOWN_IN_CORE_PAGES = {"renewal_forecast", "csm_book_of_business"}
# Marts every build publishes (the core pages read them).
CORE_MARTS = {
    "customer_360",
    "mrr_movements",
    "mrr_summary",
    "customer_health_daily",
    "at_risk_accounts",
    "cs_playbook_tasks",
}


def planning_pages(available: dict[str, str]) -> list[View]:
    """A page for each planning mart the serving copy holds (known ones with their title, any other by its name)."""
    views = []
    for mart in sorted(set(available) - CORE_MARTS - SHOWN_IN_CORE_PAGES, key=planning.sort_key):
        views.append(
            View(planning.title(mart), mart.replace("_", "-"), partial(planning.render, mart, available[mart]))
        )
    return views
