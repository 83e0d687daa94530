"""The csops code location (workspace.yaml and `dg` both load this module): every module of orchestration/defs/
contributes its assets, checks, jobs, schedules, sensors and resources; nothing is listed by hand here."""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions, definitions, load_from_defs_folder


@definitions
def defs() -> Definitions:
    return load_from_defs_folder(path_within_project=Path(__file__).parent)
