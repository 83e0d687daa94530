"""One module per part of the graph: ingestion (dlt), transformation (dbt), checks, publishing, activation,
automation (jobs, schedules, sensors)."""
