{#- Cross-database time helpers. Every timestamp leaves staging as a UTC timestamp without time zone. -#}

{% macro epoch_to_utc(column) -%}
    {{ return(adapter.dispatch('epoch_to_utc', 'csops')(column)) }}
{%- endmacro %}

{% macro default__epoch_to_utc(column) -%}
    (to_timestamp({{ column }}) at time zone 'UTC')
{%- endmacro %}

{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc', 'csops')(column)) }}
{%- endmacro %}

{% macro default__to_utc(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{#- The day the marts describe: CSOPS_AS_OF_DATE when set (the sandbox's today, a backfill; the Dagster graph always
    sets it), else the as-of date the last build recorded in the warehouse (so a plain `dbt build` in dbt_project/
    describes the same day as the graph's last run), else today (UTC).
    Everything before this date's midnight is history; the as-of day itself has not happened yet.
    While dbt parses, nothing is read: the date only shapes SQL compiled at run time, and an env_var() read at parse
    time would make every nightly run (a new date) re-parse each model that calls this macro. -#}
{% macro as_of_date() -%}
    {%- if not execute -%}{{ return('current_date') }}{%- endif -%}
    {%- set value = env_var('CSOPS_AS_OF_DATE', '') or recorded_as_of_date() -%}
    {%- if value -%}cast('{{ value }}' as date){%- else -%}current_date{%- endif -%}
{%- endmacro %}

{% macro as_of_record() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema, identifier='csops_as_of')) }}
{%- endmacro %}

{#- The as-of date the last build recorded (none before the first build, or while dbt only parses). -#}
{% macro recorded_as_of_date() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set record = as_of_record() -%}
    {%- if adapter.get_relation(database=record.database, schema=record.schema, identifier=record.identifier) is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set result = run_query('select max(as_of_date) from ' ~ record) -%}
    {%- set value = result.columns[0].values()[0] if result and result.rows else none -%}
    {{ return(value | string if value else '') }}
{%- endmacro %}

{#- on-run-end: remember the as-of date this build used (one statement per hook call). -#}
{% macro record_as_of_date() -%}
    {%- set record = as_of_record() -%}
    {%- set day = as_of_date() -%}
    {#- The target schema holds no model on Postgres (models go to staging / marts ...): create it first. -#}
    {% do adapter.create_schema(api.Relation.create(database=record.database, schema=record.schema)) %}
    {% do run_query('create table if not exists ' ~ record ~ ' (as_of_date date)') %}
    {{ return(adapter.dispatch('replace_as_of_record', 'csops')(record, day)) }}
{%- endmacro %}

{% macro default__replace_as_of_record(record, day) -%}
    {% do run_query('delete from ' ~ record) %}
    insert into {{ record }} (as_of_date) select {{ day }}
{%- endmacro %}

{#- Spark tables over Parquet have no delete: the one row is overwritten. -#}
{% macro spark__replace_as_of_record(record, day) -%}
    insert overwrite table {{ record }} select {{ day }}
{%- endmacro %}

{% macro as_of_timestamp() -%}
    cast({{ as_of_date() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- Spark: timestamps are instants shown in the session time zone, which the profile sets to UTC. -#}
{% macro spark__epoch_to_utc(column) -%}
    timestamp_seconds({{ column }})
{%- endmacro %}

{% macro spark__to_utc(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{#- A time-zone-aware column (as dlt loads timestamps) as UTC without time zone, like to_utc. On DuckDB from its
    microseconds since the epoch, which it stores: the same values, without the ICU time-zone conversion behind
    `at time zone` (over 99M events 0.4 s against 5.7 s; the UTC day 0.6 s against 6.3 s). Only for columns known to
    carry a time zone (to_utc also takes text). -#}
{% macro tz_to_utc(column) -%}
    {{ return(adapter.dispatch('tz_to_utc', 'csops')(column)) }}
{%- endmacro %}

{% macro default__tz_to_utc(column) -%}
    {{ to_utc(column) }}
{%- endmacro %}

{% macro duckdb__tz_to_utc(column) -%}
    make_timestamp(epoch_us({{ column }}))
{%- endmacro %}
