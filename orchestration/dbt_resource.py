"""dagster-dbt's dbt resource, less two things each of its invocations does that csops does not use.

- `dbt --version` in a subprocess, to learn the version of the dbt it runs: csops runs this environment's own dbt
  (orchestration.settings.DBT_EXECUTABLE), whose version is the installed dbt-core's.
- A dbt adapter built in the Dagster process (dbt's project, profile and macros loaded there): dagster-dbt uses it
  only for `fetch_row_counts()` / `fetch_column_metadata()`; csops reads row counts and key figures from the
  warehouse itself (orchestration/defs/transformation.py, `warehouse_facts`).

Together about 7 s of every night's dbt step on this machine (measured in the bench's nightly run).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class DbtResource(DbtCliResource):
    """DbtCliResource for this environment's dbt, without the in-process adapter (see the module docstring)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None
