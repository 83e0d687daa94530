"""The rendered world in memory: every `world/*.parquet` table as numpy columns, reloaded when the world
changes.

Loading once and answering from arrays is what keeps paging fast at the large scale (hundreds of thousands of
rows per table): filters are boolean masks, cursors are `searchsorted`, and only the rows of one page are ever
turned into Python dicts. `csops sandbox advance` rewrites `manifest.json` last, so its mtime is the signal
that a complete new render is on disk; the check is one `stat` per request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sandbox.manifest import MANIFEST_FILE, Manifest
from sandbox.server.common import MS_NULL

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Column:
    """One column: `values` typed for comparison, `valid` False where the value is null.

    kind: str | int | float | bool | ts (int64 ms since epoch) | date (int64 days since epoch).
    """

    kind: str
    values: np.ndarray
    valid: np.ndarray

    def value(self, row: int) -> Any:
        return self.values[row] if self.valid[row] else None


def _column(array: pa.ChunkedArray) -> Column:
    valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
    kind_of = array.type
    if pa.types.is_timestamp(kind_of):
        micros = pc.cast(array.cast(pa.timestamp("us", tz="UTC")), pa.int64()).fill_null(0).to_numpy()
        values = np.where(valid, micros // 1000, MS_NULL).astype(np.int64)
        return Column("ts", values, valid)
    if pa.types.is_date(kind_of):
        days = pc.cast(array.cast(pa.date32()), pa.int32()).fill_null(0).to_numpy().astype(np.int64)
        return Column("date", days, valid)
    if pa.types.is_boolean(kind_of):
        return Column("bool", array.fill_null(False).to_numpy(zero_copy_only=False).astype(bool), valid)
    if pa.types.is_integer(kind_of):
        return Column("int", array.fill_null(0).to_numpy().astype(np.int64), valid)
    if pa.types.is_floating(kind_of):
        return Column("float", array.fill_null(0.0).to_numpy().astype(np.float64), valid)
    strings = array.cast(pa.string()).combine_chunks()
    encoded = pc.dictionary_encode(strings)
    if len(encoded.dictionary) * 2 < len(strings):  # repetitive (statuses, types, ids of parents): share strings
        dictionary = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
        indices = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
        return Column("str", dictionary[indices], valid)
    return Column("str", strings.to_numpy(zero_copy_only=False).astype(object), valid)


class GroupIndex:
    """Rows grouped by a key column (e.g. lines by invoice): one argsort, then `searchsorted` per lookup."""

    def __init__(self, keys: np.ndarray, valid: np.ndarray):
        rows = np.flatnonzero(valid)
        order = np.argsort(keys[rows], kind="stable")
        self.rows_sorted = rows[order]
        self.keys_sorted = keys[self.rows_sorted]

    def rows(self, key: Any) -> np.ndarray:
        lo = np.searchsorted(self.keys_sorted, key, side="left")
        hi = np.searchsorted(self.keys_sorted, key, side="right")
        return self.rows_sorted[lo:hi]

    def rows_many(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) into `rows_sorted` for every key, vectorised."""
        return (
            np.searchsorted(self.keys_sorted, keys, side="left"),
            np.searchsorted(self.keys_sorted, keys, side="right"),
        )


class Table:
    """A world table as columns, with cached id lookups and group indexes."""

    def __init__(self, name: str, columns: dict[str, Column], n: int):
        self.name, self.columns, self.n = name, columns, n
        self._index: dict[str, dict[Any, int]] = {}
        self._groups: dict[str, GroupIndex] = {}
        self._lists: dict[str, list[Any]] = {}

    @classmethod
    def from_arrow(cls, name: str, table: pa.Table) -> Table:
        return cls(name, {col: _column(table.column(col)) for col in table.column_names}, table.num_rows)

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def col(self, column: str) -> Column:
        return self.columns[column]

    def pylist(self, column: str) -> list[Any]:
        """The column as a Python list (None for nulls): O(1) row access without numpy scalar overhead."""
        if column not in self._lists:
            c = self.columns[column]
            values = c.values.tolist()
            self._lists[column] = [v if ok else None for v, ok in zip(values, c.valid.tolist(), strict=True)]
        return self._lists[column]

    def index(self, column: str = "id") -> dict[Any, int]:
        """value -> row for a unique column."""
        if column not in self._index:
            c = self.columns[column]
            self._index[column] = {v: i for i, (v, ok) in enumerate(zip(c.values.tolist(), c.valid, strict=True)) if ok}
        return self._index[column]

    def group(self, column: str) -> GroupIndex:
        if column not in self._groups:
            c = self.columns[column]
            self._groups[column] = GroupIndex(c.values, c.valid)
        return self._groups[column]

    def row(self, i: int) -> dict[str, Any]:
        return {name: c.value(i) for name, c in self.columns.items()}


@dataclass
class World:
    """One render of the sandbox (as of the manifest's `today`), plus anything derived from it, cached."""

    directory: Path
    manifest: Manifest
    mtime_ns: int
    tables: dict[str, Table]
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _derived: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cutoff_ms(self) -> int:
        """`today 00:00 UTC`: everything visible happened before it."""
        return int(datetime.combine(self.manifest.today, datetime.min.time(), UTC).timestamp() * 1000)

    def table(self, name: str) -> Table:
        if name not in self.tables:
            raise KeyError(f"the sandbox world has no table {name!r} (regenerate it with `csops sandbox generate`)")
        return self.tables[name]

    def derive(self, key: str, builder: Callable[[World], T]) -> T:
        """Memoised per world: vendor modules build their indexes once per render."""
        if key not in self._derived:
            with self._lock:
                if key not in self._derived:
                    self._derived[key] = builder(self)
        return self._derived[key]


def load_world(directory: Path) -> World:
    try:  # the mtime first: if the world changes while loading, the next request loads it again
        mtime = (directory / MANIFEST_FILE).stat().st_mtime_ns
    except FileNotFoundError:
        Manifest.read(directory)  # raises the clear "no sandbox at ..." error
        raise
    manifest = Manifest.read(directory)
    tables = {}
    for path in sorted((directory / "world").glob("*.parquet")):
        tables[path.stem] = Table.from_arrow(path.stem, pq.read_table(path))
    return World(directory=directory, manifest=manifest, mtime_ns=mtime, tables=tables)


class WorldStore:
    """Hands out the current world; reloads lazily when `manifest.json` changed (i.e. after `advance`)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._world = load_world(self.directory)
        self._lock = threading.Lock()
        self.reloads = 0

    def current(self) -> World:
        try:
            mtime = (self.directory / MANIFEST_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            return self._world
        if mtime != self._world.mtime_ns:
            with self._lock:
                if mtime != self._world.mtime_ns:
                    try:
                        self._world = load_world(self.directory)
                        self.reloads += 1
                    except (
                        OSError,
                        pa.ArrowException,
                        ValueError,
                    ) as exc:  # mid-render: keep serving the old one
                        log.warning("sandbox world reload failed, serving the previous render: %s", exc)
        return self._world

    def reload(self) -> World:
        with self._lock:
            self._world = load_world(self.directory)
            self.reloads += 1
        return self._world
