"""CRM writes made through the HubSpot API, persisted in `<dir>/crm.sqlite` and mirrored in memory.

The world files are re-rendered by `csops sandbox advance`; what the product wrote into the CRM (custom
property definitions, property values, tasks and their associations, lists and memberships) must outlive that
and server restarts, so it lives beside the world in SQLite and is laid over the world on every read. This
module only stores and retrieves: HubSpot's validation rules live in `schema` and `values`.

Another process writing the same file (a second server on the same directory) is noticed through SQLite's
`PRAGMA data_version`, and the in-memory copy is reloaded.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.server.common import dumps, loads, now_ms

SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists properties (
    object_type text not null, name text not null, definition text not null, created_ms integer not null,
    primary key (object_type, name));
create table if not exists property_groups (
    object_type text not null, name text not null, definition text not null, created_ms integer not null,
    primary key (object_type, name));
create table if not exists objects (
    object_type text not null, object_id integer not null, created_ms integer, updated_ms integer not null,
    api_created integer not null default 0, archived integer not null default 0,
    primary key (object_type, object_id));
create table if not exists property_values (
    object_type text not null, object_id integer not null, name text not null, value text,
    updated_ms integer not null, primary key (object_type, object_id, name));
create table if not exists associations (
    from_type text not null, from_id integer not null, to_type text not null, to_id integer not null,
    type_id integer not null, category text not null,
    primary key (from_type, from_id, to_type, to_id, type_id));
create table if not exists lists (
    list_id integer primary key, name text not null, object_type_id text not null,
    processing_type text not null,
    created_ms integer not null, updated_ms integer not null, version integer not null, deleted_ms integer);
create table if not exists list_members (
    list_id integer not null, record_id integer not null, added_ms integer not null,
    primary key (list_id, record_id));
"""
FIRST_IDS = {"tasks": 75_000_000_001, "lists": 1}


@dataclass
class ApiObject:
    """Write bookkeeping of one object: created through the API (tasks) or a world object that was updated."""

    object_type: str
    object_id: int
    created_ms: int | None
    updated_ms: int
    api_created: bool
    archived: bool


@dataclass
class CrmList:
    list_id: int
    name: str
    object_type_id: str
    processing_type: str
    created_ms: int
    updated_ms: int
    version: int
    deleted_ms: int | None = None
    members: dict[int, int] = field(default_factory=dict)  # record id -> added ms


@dataclass
class Snapshot:
    """Everything written, as plain dicts, rebuilt from SQLite when another process wrote."""

    definitions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    objects: dict[str, dict[int, ApiObject]] = field(default_factory=dict)
    values: dict[str, dict[int, dict[str, str | None]]] = field(default_factory=dict)
    associations: set[tuple[str, int, str, int, int, str]] = field(default_factory=set)
    lists: dict[int, CrmList] = field(default_factory=dict)


class CrmStore:
    """The write store. All methods are synchronous and short; one lock serialises them."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._last_ms = 0
        self.version = 0
        self.snap = Snapshot()
        self._conn: sqlite3.Connection | None = None
        self._open()

    def _open(self) -> None:
        """(Re)open the file, in SQLite's default rollback-journal mode rather than WAL: `csops sandbox
        generate` deletes crm.sqlite, and a WAL file left beside a new database would be replayed into it."""
        if self._conn is not None:
            self._conn.close()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("pragma synchronous=normal")
        self._conn.executescript(SCHEMA)
        stat = self.path.stat()
        self._identity = (stat.st_dev, stat.st_ino)
        self._data_version = -1
        self._reload()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ----------------------------------------------------------------------------------------------- reading
    def current(self) -> Snapshot:
        """The in-memory copy: reloaded if another connection committed since we last looked, reopened if
        the file was replaced (a new `csops sandbox generate` starts the CRM afresh)."""
        with self._lock:
            try:
                stat = self.path.stat()
                replaced = (stat.st_dev, stat.st_ino) != self._identity
            except FileNotFoundError:
                replaced = True
            if replaced:
                self._open()
                return self.snap
            data_version = self._conn.execute("pragma data_version").fetchone()[0]
            if data_version != self._data_version:
                self._reload()
            return self.snap

    def _reload(self) -> None:
        snap = Snapshot()
        c = self._conn
        for object_type, name, definition in c.execute("select object_type, name, definition from properties"):
            snap.definitions.setdefault(object_type, {})[name] = loads(definition)
        for object_type, name, definition in c.execute("select object_type, name, definition from property_groups"):
            snap.groups.setdefault(object_type, {})[name] = loads(definition)
        for row in c.execute(
            "select object_type, object_id, created_ms, updated_ms, api_created, archived from objects"
        ):
            obj = ApiObject(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]))
            snap.objects.setdefault(obj.object_type, {})[obj.object_id] = obj
        for object_type, object_id, name, value in c.execute(
            "select object_type, object_id, name, value from property_values"
        ):
            snap.values.setdefault(object_type, {}).setdefault(object_id, {})[name] = value
        snap.associations = set(
            c.execute("select from_type, from_id, to_type, to_id, type_id, category from associations")
        )
        for row in c.execute(
            "select list_id, name, object_type_id, processing_type, created_ms, updated_ms, "
            "version, deleted_ms from lists"
        ):
            snap.lists[row[0]] = CrmList(*row)
        for list_id, record_id, added_ms in c.execute("select list_id, record_id, added_ms from list_members"):
            if list_id in snap.lists:
                snap.lists[list_id].members[record_id] = added_ms
        self.snap = snap
        self._data_version = c.execute("pragma data_version").fetchone()[0]
        self._last_ms = max([self._last_ms, *(o.updated_ms for objs in snap.objects.values() for o in objs.values())])
        self.version += 1

    # ------------------------------------------------------------------------------------------------- clock
    def clock_ms(self, floor_ms: int = 0) -> int:
        """The time a write happens: wall clock, never before the sandbox's today, strictly increasing.

        Strictly increasing, so incremental readers (`hs_lastmodifieddate GT last seen`) never miss a write.
        """
        with self._lock:
            self._last_ms = max(now_ms(), floor_ms, self._last_ms + 1)
            return self._last_ms

    def next_id(self, kind: str) -> int:
        with self._lock:
            row = self._conn.execute("select value from meta where key = ?", (f"next_id:{kind}",)).fetchone()
            value = int(row[0]) if row else FIRST_IDS[kind]
            self._conn.execute(
                "insert or replace into meta (key, value) values (?, ?)", (f"next_id:{kind}", str(value + 1))
            )
            return value

    # ------------------------------------------------------------------------------------------------ writing
    def _commit(self, statements: Iterable[tuple[str, tuple]]) -> None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("begin immediate")
            try:
                for sql, args in statements:
                    cur.execute(sql, args)
            except BaseException:
                cur.execute("rollback")
                raise
            cur.execute("commit")
            self._data_version = self._conn.execute("pragma data_version").fetchone()[0]
            self.version += 1

    def add_property(self, object_type: str, definition: dict[str, Any], at_ms: int) -> None:
        self._add_definition("properties", "definitions", object_type, definition, at_ms)

    def add_group(self, object_type: str, group: dict[str, Any], at_ms: int) -> None:
        self._add_definition("property_groups", "groups", object_type, group, at_ms)

    def _add_definition(self, table: str, mirror: str, object_type: str, item: dict[str, Any], at_ms: int) -> None:
        """A named definition (property or property group) of an object type, stored and mirrored in memory."""
        with self._lock:
            self._commit(
                [
                    (
                        f"insert into {table} (object_type, name, definition, created_ms) values (?, ?, ?, ?)",
                        (object_type, item["name"], dumps(item).decode(), at_ms),
                    )
                ]
            )
            getattr(self.snap, mirror).setdefault(object_type, {})[item["name"]] = item

    def write_objects(
        self,
        object_type: str,
        updates: list[tuple[int, dict[str, str | None]]],
        at_ms: int,
        created: bool = False,
        associations: Iterable[tuple[str, int, str, int, int, str]] = (),
    ) -> None:
        """Set property values of objects (creating API objects when `created`), in one transaction."""
        associations = list(associations)
        statements: list[tuple[str, tuple]] = []
        for object_id, props in updates:
            if created:
                statements.append(
                    (
                        "insert into objects (object_type, object_id, created_ms, updated_ms, "
                        "api_created) values (?, ?, ?, ?, 1)",
                        (object_type, object_id, at_ms, at_ms),
                    )
                )
            else:
                statements.append(
                    (
                        "insert into objects (object_type, object_id, created_ms, updated_ms) "
                        "values (?, ?, null, ?) on conflict (object_type, object_id) do update set "
                        "updated_ms = excluded.updated_ms",
                        (object_type, object_id, at_ms),
                    )
                )
            for name, value in props.items():
                statements.append(
                    (
                        "insert or replace into property_values (object_type, object_id, name, value, "
                        "updated_ms) values (?, ?, ?, ?, ?)",
                        (object_type, object_id, name, value, at_ms),
                    )
                )
        for assoc in associations:
            statements.append(
                (
                    "insert or ignore into associations (from_type, from_id, to_type, to_id, type_id, "
                    "category) values (?, ?, ?, ?, ?, ?)",
                    assoc,
                )
            )
        with self._lock:
            self._commit(statements)
            objects = self.snap.objects.setdefault(object_type, {})
            values = self.snap.values.setdefault(object_type, {})
            for object_id, props in updates:
                existing = objects.get(object_id)
                if created or existing is None:
                    objects[object_id] = ApiObject(
                        object_type, object_id, at_ms if created else None, at_ms, created, False
                    )
                else:
                    existing.updated_ms = at_ms
                values.setdefault(object_id, {}).update(props)
            self.snap.associations.update(associations)

    def archive_object(self, object_type: str, object_id: int, at_ms: int) -> None:
        """Archive (delete) an object: one the API created, or one of the world's (a user deleting a company)."""
        with self._lock:
            self._commit(
                [
                    (
                        "insert into objects (object_type, object_id, created_ms, updated_ms, archived) "
                        "values (?, ?, null, ?, 1) on conflict (object_type, object_id) do update set "
                        "archived = 1, updated_ms = excluded.updated_ms",
                        (object_type, object_id, at_ms),
                    )
                ]
            )
            objects = self.snap.objects.setdefault(object_type, {})
            obj = objects.get(object_id)
            if obj is None:
                objects[object_id] = ApiObject(object_type, object_id, None, at_ms, False, True)
            else:
                obj.archived, obj.updated_ms = True, at_ms

    # ------------------------------------------------------------------------------------------------- lists
    def create_list(self, name: str, object_type_id: str, processing_type: str, at_ms: int) -> CrmList:
        with self._lock:
            list_id = self.next_id("lists")
            self._commit(
                [
                    (
                        "insert into lists (list_id, name, object_type_id, processing_type, created_ms, "
                        "updated_ms, version) values (?, ?, ?, ?, ?, ?, 1)",
                        (list_id, name, object_type_id, processing_type, at_ms, at_ms),
                    )
                ]
            )
            crm_list = CrmList(list_id, name, object_type_id, processing_type, at_ms, at_ms, 1)
            self.snap.lists[list_id] = crm_list
            return crm_list

    def delete_list(self, list_id: int, at_ms: int) -> None:
        with self._lock:
            self._commit(
                [
                    (
                        "update lists set deleted_ms = ?, updated_ms = ? where list_id = ?",
                        (at_ms, at_ms, list_id),
                    )
                ]
            )
            self.snap.lists[list_id].deleted_ms = at_ms

    def change_members(self, list_id: int, add: list[int], remove: list[int], at_ms: int) -> None:
        statements: list[tuple[str, tuple]] = []
        statements += [
            (
                "insert or ignore into list_members (list_id, record_id, added_ms) values (?, ?, ?)",
                (list_id, r, at_ms),
            )
            for r in add
        ]
        statements += [("delete from list_members where list_id = ? and record_id = ?", (list_id, r)) for r in remove]
        statements.append(
            ("update lists set updated_ms = ?, version = version + 1 where list_id = ?", (at_ms, list_id))
        )
        with self._lock:
            self._commit(statements)
            crm_list = self.snap.lists[list_id]
            for r in add:
                crm_list.members.setdefault(r, at_ms)
            for r in remove:
                crm_list.members.pop(r, None)
            crm_list.updated_ms = at_ms
            crm_list.version += 1
