{#- How an incremental model writes a run's rows, per engine; `partition_column` is the day column the model
    recomputes whole (every incremental model here emits complete days).
    DuckDB / Postgres: delete+insert on the model's unique_key. Spark over plain Parquet has no delete or merge
    (those need Delta or Iceberg): the table is partitioned by the day and a run overwrites exactly the days it
    emits (insert_overwrite, dynamic partition overwrite) — the same rows as delete+insert, since each emitted
    day is complete. Spark puts the partition column last in the table. -#}
{% macro incremental_by_day(partition_column) -%}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [partition_column], 'file_format': 'parquet'}) }}
    {%- else -%}
        {{ return({'incremental_strategy': 'delete+insert'}) }}
    {%- endif -%}
{%- endmacro %}
