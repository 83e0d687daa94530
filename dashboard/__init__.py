"""The CS Ops dashboard: Streamlit pages over the BI serving copy (serving.duckdb), started by `csops dashboard`."""
