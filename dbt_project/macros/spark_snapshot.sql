{#- Snapshots on Spark without Delta. dbt-spark snapshots only Delta / Iceberg / Hudi tables (they merge); over plain
    Parquet this materialization keeps the same type-2 history by rewriting it: closed versions as they were, the
    current version closed (dbt_valid_to) when its checked columns changed or its key disappeared (hard_deletes:
    invalidate), and a new current version for every new or changed key. The next history is staged in a table of
    its own, then swapped in with insert overwrite (Spark cannot overwrite a table it is reading). Same columns and
    meaning as dbt's own snapshots; only the `check` strategy, which the project uses. -#}
{% materialization snapshot, adapter='spark' %}
    {%- set strategy = config.get('strategy') -%}
    {%- set unique_key = config.get('unique_key') -%}
    {%- set check_cols = config.get('check_cols') -%}
    {%- if strategy != 'check' or check_cols is string or unique_key is not string -%}
        {{ exceptions.raise_compiler_error(
            "snapshot " ~ model.name ~ ": on Spark over Parquet only strategy 'check' with a list of check_cols and one"
            ~ " unique_key is supported (or set file_format='delta' on a cluster with Delta)"
        ) }}
    {%- endif -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set source_sql = model['compiled_code'] -%}
    {%- set columns = get_columns_in_query(source_sql) -%}
    {%- set now = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as timestamp)" -%}
    {%- set key = adapter.quote(unique_key) -%}
    {%- set changed -%}
        ({%- for column in check_cols -%}
            not (current_version.{{ adapter.quote(column) }} <=> snapshot_source.{{ adapter.quote(column) }})
            {{- ' or ' if not loop.last }}
        {%- endfor -%})
    {%- endset -%}
    {%- set new_versions -%}
        select
            {%- for column in columns %} snapshot_source.{{ adapter.quote(column) }},{% endfor %}
            md5(concat_ws('|', cast(snapshot_source.{{ key }} as string), cast({{ now }} as string))) as dbt_scd_id,
            {{ now }} as dbt_updated_at,
            {{ now }} as dbt_valid_from,
            cast(null as timestamp) as dbt_valid_to
        from ({{ source_sql }}) as snapshot_source
    {%- endset -%}

    {%- if existing is none -%}
        {%- call statement('main') -%}
            create table {{ target }} using parquet as {{ new_versions }}
        {%- endcall -%}
    {%- else -%}
        {%- set staged = api.Relation.create(schema=this.schema, identifier=this.identifier ~ '__dbt_next', type='table') -%}
        {%- call statement('drop_staged') -%}drop table if exists {{ staged }}{%- endcall -%}
        {%- call statement('stage') -%}
            create table {{ staged }} using parquet as
            with current_versions as (
                select * from {{ target }} where dbt_valid_to is null
            )
            select * from {{ target }} where dbt_valid_to is not null
            union all
            select
                {%- for column in columns %} current_version.{{ adapter.quote(column) }},{% endfor %}
                current_version.dbt_scd_id,
                current_version.dbt_updated_at,
                current_version.dbt_valid_from,
                case when snapshot_source.{{ key }} is null or {{ changed }} then {{ now }} end as dbt_valid_to
            from current_versions as current_version
            left join ({{ source_sql }}) as snapshot_source
                on current_version.{{ key }} = snapshot_source.{{ key }}
            union all
            {{ new_versions }}
            left join current_versions as current_version
                on current_version.{{ key }} = snapshot_source.{{ key }}
            where current_version.{{ key }} is null or {{ changed }}
        {%- endcall -%}
        {%- call statement('main') -%}
            insert overwrite table {{ target }} select * from {{ staged }}
        {%- endcall -%}
        {%- do adapter.drop_relation(staged) -%}
    {%- endif -%}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}
