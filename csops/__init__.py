"""csops front door: wires commands to ingestion/, dbt_project/, orchestration/, activation/, sandbox/."""
