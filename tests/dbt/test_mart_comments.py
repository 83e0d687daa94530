"""dbt's descriptions reach the warehouse where BI tools and the dashboard read them: every mart and every mart
column carries its description as a comment (dbt_project.yml `persist_docs`; column comments on the marts only)."""

from __future__ import annotations

import json

import duckdb

from tests.support import Company


def test_every_mart_column_carries_its_dbt_description_as_its_comment(small_company: Company) -> None:
    manifest = json.loads((small_company.warehouse.parent / "target" / "manifest.json").read_text())
    marts = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    described = {
        (name, column): info["description"]
        for name, node in marts.items()
        for column, info in node["columns"].items()
        if info["description"]
    }
    assert len(marts) >= 15 and len(described) >= 300, (len(marts), len(described))
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'"
        ).fetchall()
        tables = dict(
            con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall()
        )
    comments = {(table, column): comment for table, column, comment in columns}
    assert {key: comments.get(key) for key in described} == described
    assert {name: tables.get(name) for name in marts} == {name: node["description"] for name, node in marts.items()}
