"""Dagster orchestration: every dlt resource, dbt model / seed / test, the serving copy and the CRM sync as assets
in one graph, with checks, a nightly schedule and failure alerts. `definitions.py` only loads the `defs/` folder."""
