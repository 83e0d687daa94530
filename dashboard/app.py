"""The CS Ops dashboard (Streamlit): `csops dashboard`, or `streamlit run dashboard/app.py`.

This script runs on every page view. It lists the marts the serving copy holds and offers the pages they can fill:
the core pages always, a planning page only when its mart has been published. Without a serving copy it shows one
page that says how to make one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

if __package__ in (
    None,
    "",
):  # `streamlit run dashboard/app.py` runs this file as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.data import marts
from dashboard.serving import ServingCopyMissing, serving_path
from dashboard.views import CORE_PAGES, planning_pages


def missing_serving_copy() -> None:
    st.title("CS Ops dashboard")
    st.warning(
        f"No serving copy at `{serving_path()}` yet: run `make demo` first (or `csops run` on your own systems). "
        "The dashboard reads the marts a successful build publishes there; reload this page afterwards.",
    )


def main() -> None:
    # No page_icon (nor page icons): Streamlit fetches Material icons for the favicon from fonts.gstatic.com.
    st.set_page_config(page_title="CS Ops dashboard", layout="wide")
    try:
        available = marts()
    except ServingCopyMissing:
        st.navigation([st.Page(missing_serving_copy, title="Getting started", url_path="start")]).run()
        return
    pages = {"Revenue & health": [page.streamlit_page() for page in CORE_PAGES]}
    planning = [page.streamlit_page() for page in planning_pages(available)]
    if planning:
        pages["Planning"] = planning
    st.navigation(pages).run()
    st.sidebar.caption(f"Serving copy: `{serving_path()}`")


main()
