"""dagster-dbt's dbt resource, less two things each of its invocations does that csops does not use.

- `dbt --version` in a subprocess, to learn the version of the dbt it runs (that command also asks PyPI for the
  latest release): csops runs this environment's own dbt (orchestration.settings.DBT_EXECUTABLE), whose version is
  the installed dbt-core's.
- A dbt adapter built in the Dagster process (dbt's project, profile and macros loaded there): dagster-dbt uses it
  only for `fetch_row_counts()` / `fetch_column_metadata()`; csops reads row counts and key figures from the
  warehouse itself (orchestration/defs/transformation.py, `warehouse_facts`).

Measured in the bench's night run as one Dagster run, at the tiny scale: 7.1 s passed before dbt started; the dbt
step as a whole went from 42.7 to 26.6 s.
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
