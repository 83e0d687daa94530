"""The defs folder: orchestration/definitions.py loads every module here (`load_from_defs_folder`), each declaring
its part of the graph at module level: ingestion (dlt), transformation (dbt), checks, publishing, activation,
automation (jobs, schedules, sensors) and resources (an `@definitions` function). A new module is picked up as is."""
