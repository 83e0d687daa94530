"""Where the dashboard finds the BI serving copy, and which published version of it is there now.

Kept apart from the queries (dashboard/data.py) so that `csops dashboard` can say which file it will read without
loading Streamlit.
"""

from __future__ import annotations

from pathlib import Path


class ServingCopyMissing(RuntimeError):
    """No serving copy at the configured path: nothing has been built and published yet."""


def serving_path() -> Path:
    """CSOPS_SERVING_WAREHOUSE, else serving.duckdb beside the warehouse (CSOPS_WAREHOUSE, else data/): where the
    pipeline publishes the marts after a successful build."""
    from ingestion.settings import WarehouseSettings

    settings = WarehouseSettings.read()
    return settings.serving_warehouse or settings.warehouse.with_name("serving.duckdb")


def published_version(path: Path) -> tuple[str, int, int]:
    """(path, inode, modification time): a publish replaces the file by a rename, which changes both."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ServingCopyMissing(f"no serving copy at {path}") from None
    return str(path), stat.st_ino, stat.st_mtime_ns
