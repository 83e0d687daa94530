"""HubSpot's objects over the world: an `ObjectSet` is all objects of one type as arrays, with the CRM writes of
`crm_writes` laid over the world's values, so reads and search see writes; association indexes join them.

HubSpot serves every property value as a string (numbers "25", datetimes "2026-03-09T02:35:01.502Z", dates
"2026-03-09", booleans "true"), validates writes against property definitions (unknown property ->
PROPERTY_DOESNT_EXIST), and lets a portal add custom properties: object_types.py, schema.py and values.py hold
those rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sandbox.server.common import MS_NULL, iso_ms
from sandbox.server.faults import unit_hash
from sandbox.server.hubspot.crm_writes import CrmStore, Snapshot
from sandbox.server.hubspot.object_types import (
    LABELLED_COMPANY_LINKS,
    OBJECT_TYPES,
    PAIR_TYPES,
    REVERSE_TYPE_IDS,
    TASK_V3_NAMES,
    WORLD_LINKS,
    AssocType,
    ObjectType,
)
from sandbox.server.hubspot.schema import schema_for
from sandbox.server.hubspot.values import format_column, typed_from_strings
from sandbox.server.store import Column, Table, World


def index_delay(seed: int, object_id: int, lag_seconds: float) -> float:
    """Seconds after a write before search sees the record: seeded per record, in [0, lag)."""
    return lag_seconds * unit_hash(seed, "hubspot-search-index", int(object_id))


# --------------------------------------------------------------------------------------------- object sets
@dataclass
class BaseSet:
    """The world's objects of one type, sorted by id (per world render)."""

    ids: np.ndarray  # int64, ascending
    rows: np.ndarray  # rows of the world table, aligned with ids
    table: Table | None
    created_ms: np.ndarray
    modified_ms: np.ndarray
    archived: np.ndarray


def _base_set(world: World, object_type: ObjectType) -> BaseSet:
    if object_type.table is None:
        empty = np.array([], dtype=np.int64)
        return BaseSet(empty, empty, None, empty, empty, np.array([], dtype=bool))
    table = world.table(object_type.table)
    rows = np.arange(table.n)
    if object_type.engagement:
        rows = rows[table.col("object_type").values == object_type.engagement]
    ids = np.array([int(v) for v in table.col("id").values[rows]], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids, rows = ids[order], rows[order]
    created = table.col(object_type.created_prop).values[rows]
    modified = table.col(object_type.modified_prop).values[rows]
    archived = table.col("archived").values[rows] if "archived" in table else np.zeros(len(rows), dtype=bool)
    return BaseSet(ids, rows, table, created, modified, archived.astype(bool))


class ObjectSet:
    """All objects of one type with the CRM's writes applied: ids, times, typed columns, string properties."""

    def __init__(self, world: World, snap: Snapshot, object_type: ObjectType, version: int):
        self.world, self.object_type, self.version = world, object_type, version
        self.schema = schema_for(world, snap, object_type)
        base = world.derive(f"hubspot:base:{object_type.name}", lambda w: _base_set(w, object_type))
        self.base = base
        api_objects = snap.objects.get(object_type.name, {})
        self.overlay: dict[int, dict[str, str | None]] = snap.values.get(object_type.name, {})
        created = [o for o in api_objects.values() if o.api_created]
        if created:  # objects created through the API (tasks) join the world's
            created.sort(key=lambda o: o.object_id)
            extra_ids = np.array([o.object_id for o in created], dtype=np.int64)
            self.ids = np.concatenate([base.ids, extra_ids])
            self.rows = np.concatenate([base.rows, np.full(len(created), -1)])
            self.created_ms = np.concatenate([base.created_ms, [o.created_ms for o in created]]).astype(np.int64)
            self.modified_ms = np.concatenate([base.modified_ms, [o.updated_ms for o in created]]).astype(np.int64)
            self.archived = np.concatenate([base.archived, [o.archived for o in created]]).astype(bool)
            order = np.argsort(self.ids, kind="stable")
            self.ids, self.rows = self.ids[order], self.rows[order]
            self.created_ms, self.modified_ms, self.archived = (
                self.created_ms[order],
                self.modified_ms[order],
                self.archived[order],
            )
        else:
            self.ids, self.rows = base.ids, base.rows
            self.created_ms, self.modified_ms, self.archived = (
                base.created_ms,
                base.modified_ms,
                base.archived,
            )
        self.written_ms = {o.object_id: o.updated_ms for o in api_objects.values()}
        updated = [o for o in api_objects.values() if not o.api_created]
        if updated:  # a write bumps the modified time of world objects; an archive through the API archives them
            self.modified_ms, self.archived = self.modified_ms.copy(), self.archived.copy()
            positions = self.positions(np.array([o.object_id for o in updated], dtype=np.int64))
            for pos, obj in zip(positions, updated, strict=True):
                if pos >= 0:
                    self.modified_ms[pos] = max(self.modified_ms[pos], obj.updated_ms)
                    self.archived[pos] = self.archived[pos] or obj.archived
        self._columns: dict[str, Column] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def not_yet_indexed(self, lag_seconds: float, seed: int) -> np.ndarray:
        """Positions of records written through the API that search cannot see yet: each becomes searchable
        `index_delay` after its last write (the world's own records were indexed long ago)."""
        if lag_seconds <= 0 or not self.written_ms:
            return np.array([], dtype=np.int64)
        now_ms = time.time() * 1000
        late = [oid for oid, at in self.written_ms.items() if at + index_delay(seed, oid, lag_seconds) * 1000 > now_ms]
        positions = self.positions(np.array(late, dtype=np.int64))
        return positions[positions >= 0]

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Position of each id in this set, -1 where absent."""
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(len(self.ids) - 1, 0))
        found = (self.ids[pos] == ids) if len(self.ids) else np.zeros(len(ids), dtype=bool)
        return np.where(found, pos, -1)

    def position(self, object_id: str | int) -> int:
        try:
            key = int(object_id)
        except (TypeError, ValueError):
            return -1
        return int(self.positions(np.array([key], dtype=np.int64))[0])

    # --------------------------------------------------------------------------------------------- columns
    def world_column(self, prop: str) -> Column | None:
        """The world's column behind a property (None if the world has no such column)."""
        table = self.base.table
        if table is None:
            return None
        if prop in self.object_type.columns:
            return table.columns.get(self.object_type.columns[prop])
        if prop in self.object_type.hidden_columns:
            return None
        return table.columns.get(prop)

    def column(self, prop: str) -> Column:
        """A typed column over all positions, writes included (cached per set)."""
        if prop in self._columns:
            return self._columns[prop]
        n = len(self.ids)
        prop_type = self.schema.type_of(prop)
        if prop == "hs_object_id":
            col = Column("float", self.ids.astype(np.float64), np.ones(n, dtype=bool))
        elif prop == self.object_type.created_prop:
            col = Column("ts", self.created_ms, self.created_ms != MS_NULL)
        elif prop == self.object_type.modified_prop:
            col = Column("ts", self.modified_ms, self.modified_ms != MS_NULL)
        else:
            col = self._merged_column(prop, prop_type, n)
        self._columns[prop] = col
        return col

    def _merged_column(self, prop: str, prop_type: str | None, n: int) -> Column:
        world = self.world_column(prop)
        has_rows = self.rows >= 0
        if world is not None:
            rows = np.where(has_rows, self.rows, 0)
            values, valid = world.values[rows], world.valid[rows] & has_rows
            kind = world.kind
            if kind == "bool":
                values, kind = np.where(values, "true", "false").astype(object), "str"
            elif prop == "associatedcompanyid":  # an id string served as a number property
                valid = valid.copy()
                values = np.array([float(v) if ok else 0.0 for v, ok in zip(values, valid, strict=True)])
                kind = "float"
            elif kind == "int" and prop_type == "number":
                values, kind = values.astype(np.float64), "float"
            col = Column(kind, values, valid)
        else:
            kind = {"number": "float", "datetime": "ts", "date": "date"}.get(prop_type or "", "str")
            fill = {"float": 0.0, "ts": MS_NULL, "date": 0}.get(kind)
            values = np.full(n, fill, dtype={"float": np.float64, "ts": np.int64, "date": np.int64}.get(kind, object))
            col = Column(kind, values, np.zeros(n, dtype=bool))
        written = [(oid, props[prop]) for oid, props in self.overlay.items() if prop in props]
        if written:
            positions = self.positions(np.array([oid for oid, _ in written], dtype=np.int64))
            typed = typed_from_strings(prop_type, [v for _, v in written])
            values, valid = col.values.copy(), col.valid.copy()
            if values.dtype != typed.values.dtype:
                values = values.astype(object) if typed.values.dtype == object else values
            keep = positions >= 0
            values[positions[keep]] = typed.values[keep]
            valid[positions[keep]] = typed.valid[keep]
            col = Column(typed.kind if col.kind in ("str", typed.kind) else col.kind, values, valid)
        return col

    # ------------------------------------------------------------------------------------------ properties
    def properties(self, positions: np.ndarray, names: list[str]) -> list[dict[str, str | None]]:
        """HubSpot property dicts (values as strings) of the objects at `positions`."""
        out: list[dict[str, str | None]] = [{} for _ in range(len(positions))]
        ids = self.ids[positions]
        rows = self.rows[positions]
        has_rows = rows >= 0
        for name in names:
            if name == "hs_object_id":
                strings: list[str | None] = [str(i) for i in ids.tolist()]
            elif name in (self.object_type.created_prop, self.object_type.modified_prop):
                source = self.created_ms if name == self.object_type.created_prop else self.modified_ms
                strings = [iso_ms(v) if v != MS_NULL else None for v in source[positions].tolist()]
            else:
                world = self.world_column(name)
                if world is not None and has_rows.any():
                    definition = self.schema.get(name)
                    strings = format_column(
                        world, definition["type"] if definition else "string", np.where(has_rows, rows, 0)
                    )
                    strings = [s if ok else None for s, ok in zip(strings, has_rows.tolist(), strict=True)]
                else:
                    strings = [None] * len(positions)
            for i, (object_id, value) in enumerate(zip(ids.tolist(), strings, strict=True)):
                written = self.overlay.get(object_id)
                out[i][name] = written[name] if written is not None and name in written else value
        return out

    def property_names(self) -> list[str]:
        """Every property an object of this type can have (for `properties` validation)."""
        return [p["name"] for p in self.schema.all()]

    def default_names(self) -> list[str]:
        return list(self.object_type.default_props)

    def served_names(self, requested: list[str] | None) -> list[str]:
        """Requested properties that exist plus the three HubSpot always returns; defaults if none asked."""
        if not requested:
            return self.default_names()
        known = set(self.property_names())
        always = ["hs_object_id", self.object_type.created_prop, self.object_type.modified_prop]
        names = [p for p in requested if p in known]
        return list(dict.fromkeys([*names, *always]))

    def to_public(self, positions: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
        """SimplePublicObject dicts: id, properties, createdAt, updatedAt, archived."""
        props = self.properties(positions, names)
        created = self.created_ms[positions].tolist()
        modified = self.modified_ms[positions].tolist()
        archived = self.archived[positions].tolist()
        out = []
        for i, p, c, m, a in zip(self.ids[positions].tolist(), props, created, modified, archived, strict=True):
            obj = {
                "id": str(i),
                "properties": p,
                "createdAt": iso_ms(c),
                "updatedAt": iso_ms(m),
                "archived": a,
            }
            if a:
                obj["archivedAt"] = iso_ms(m)
            out.append(obj)
        return out


# ------------------------------------------------------------------------------------- association index
@dataclass
class AssocIndex:
    """from-id -> [(to-id, AssocType)] for one (from, to) pair, world links and API-made ones together."""

    from_ids: np.ndarray
    to_ids: np.ndarray
    types: list[tuple[AssocType, ...]]

    def lookup(self, ids: np.ndarray) -> list[list[tuple[int, tuple[AssocType, ...]]]]:
        starts = np.searchsorted(self.from_ids, ids, side="left")
        ends = np.searchsorted(self.from_ids, ids, side="right")
        return [
            [(int(self.to_ids[k]), self.types[k]) for k in range(s, e)]
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ]


def _world_links(world: World, from_name: str, to_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(from ids, to ids) of the world's foreign-key links between two types (either direction)."""
    if (from_name, to_name) in WORLD_LINKS:
        child, parent, column = from_name, to_name, WORLD_LINKS[(from_name, to_name)]
        forward = True
    elif (to_name, from_name) in WORLD_LINKS:
        child, parent, column = to_name, from_name, WORLD_LINKS[(to_name, from_name)]
        forward = False
    else:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    del parent
    base = world.derive(f"hubspot:base:{child}", lambda w: _base_set(w, OBJECT_TYPES[child]))
    col = base.table.col(column)
    valid = col.valid[base.rows]
    child_ids = base.ids[valid]
    target_ids = np.array([int(v) for v in col.values[base.rows][valid]], dtype=np.int64)
    return (child_ids, target_ids) if forward else (target_ids, child_ids)


def _labelled_links(world: World, from_name: str, to_name: str) -> tuple[np.ndarray, np.ndarray, list] | None:
    """(from ids, to ids, types) from the world's labelled company associations (several companies per record,
    Primary or not, user-defined labels), or None where the world has none for this pair."""
    if "hubspot_company_associations" not in world.tables:
        return None
    if to_name == "companies" and from_name in LABELLED_COMPANY_LINKS:
        object_type, forward = from_name, True
    elif from_name == "companies" and to_name in LABELLED_COMPANY_LINKS:
        object_type, forward = to_name, False
    else:
        return None
    table = world.table("hubspot_company_associations")
    rows = np.flatnonzero(table.col("object_type").values == object_type)
    grouped: dict[tuple[int, int], list[AssocType]] = {}
    pair = PAIR_TYPES[(from_name, to_name)]
    names = {t.type_id: t.v3_name for t in pair}
    for row in rows.tolist():
        record, company = int(table.col("object_id").values[row]), int(table.col("company_id").values[row])
        type_id = int(table.col("type_id").values[row])
        label_col = table.col("label")
        label = label_col.values[row] if label_col.valid[row] else None
        category = table.col("category").values[row]
        type_id = type_id if forward else REVERSE_TYPE_IDS.get(type_id, type_id)
        key = (record, company) if forward else (company, record)
        grouped.setdefault(key, []).append(AssocType(type_id, label, names.get(type_id, ""), category))
    keys = list(grouped)
    return (
        np.array([k[0] for k in keys], dtype=np.int64),
        np.array([k[1] for k in keys], dtype=np.int64),
        [tuple(grouped[k]) for k in keys],
    )


def association_index(world: World, snap: Snapshot, version: int, from_name: str, to_name: str) -> AssocIndex:
    def build_world(w: World) -> tuple[np.ndarray, np.ndarray, list[tuple[AssocType, ...]]]:
        labelled = _labelled_links(w, from_name, to_name)
        if labelled is not None:
            return labelled
        from_ids, to_ids = _world_links(w, from_name, to_name)
        return from_ids, to_ids, [PAIR_TYPES.get((from_name, to_name), ())] * len(from_ids)

    from_ids, to_ids, types = world.derive(f"hubspot:links:{from_name}:{to_name}", build_world)
    types = list(types)
    extra = [(a[1], a[3], a[4]) for a in snap.associations if a[0] == from_name and a[2] == to_name]
    if extra:
        grouped: dict[tuple[int, int], list[AssocType]] = {}
        for f, t, type_id in extra:
            grouped.setdefault((f, t), []).append(AssocType(type_id, None, TASK_V3_NAMES.get(type_id, "")))
        from_ids = np.concatenate([from_ids, np.array([k[0] for k in grouped], dtype=np.int64)])
        to_ids = np.concatenate([to_ids, np.array([k[1] for k in grouped], dtype=np.int64)])
        types = types + [tuple(v) for v in grouped.values()]
    order = np.lexsort((to_ids, from_ids))
    return AssocIndex(from_ids[order], to_ids[order], [types[i] for i in order.tolist()])


def _merge_map(world: World) -> dict[tuple[str, str], str]:
    if "hubspot_merges" not in world.tables:
        return {}
    table = world.table("hubspot_merges")
    return {
        (t, loser): survivor
        for t, loser, survivor in zip(
            table.pylist("object_type"), table.pylist("loser_id"), table.pylist("survivor_id"), strict=True
        )
    }


# ----------------------------------------------------------------------------------------------- the model
class HubSpotModel:
    """Per (world render, CRM version) object sets and association indexes, built on first use."""

    def __init__(self, world: World, crm: CrmStore):
        self.world = world
        self.snap = crm.current()
        self.version = crm.version
        self._sets: dict[str, ObjectSet] = {}
        self._assoc: dict[tuple[str, str], AssocIndex] = {}

    def objects(self, object_type: ObjectType) -> ObjectSet:
        if object_type.name not in self._sets:
            self._sets[object_type.name] = ObjectSet(self.world, self.snap, object_type, self.version)
        return self._sets[object_type.name]

    def survivor_of(self, object_type: str, object_id: str) -> str | None:
        """The record a merged-away id now resolves to (HubSpot answers a GET of the loser with the survivor)."""
        survivors = self.world.derive("hubspot:merges", _merge_map)
        return survivors.get((object_type, str(object_id)))

    def associations(self, from_name: str, to_name: str) -> AssocIndex:
        key = (from_name, to_name)
        if key not in self._assoc:
            self._assoc[key] = association_index(self.world, self.snap, self.version, from_name, to_name)
        return self._assoc[key]
