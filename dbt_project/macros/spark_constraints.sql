{#- The marts' not_null constraints on Spark (DECISIONLOG "Constraints instead of not_null tests").

    DuckDB and Postgres refuse a null in a constrained column while the model writes its table, so the marts carry
    no not_null tests for those columns. dbt-spark enforces constraints only on Delta tables, and it assumes Delta
    when `file_format` is unset: it would `alter table ... change column ... set not null` on the Parquet tables this
    project builds with open-source Spark, which Spark refuses. Here, a Delta table gets dbt-spark's own constraints;
    any other table is checked after it is written, with one query per model for all its not_null columns, and the
    model fails naming the columns and how many rows hold a null, as a failed constraint does on the other engines. -#}
{% macro spark__persist_constraints(relation, model) %}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced and config.get('file_format') == 'delta' -%}
        {% do alter_table_add_constraints(relation, model.constraints) %}
        {% do alter_column_set_constraints(relation, model.columns) %}
    {%- elif contract_config.enforced -%}
        {% do check_not_null_constraints(relation, model.columns) %}
    {%- endif -%}
{% endmacro %}

{% macro check_not_null_constraints(relation, columns) %}
    {%- set constrained = [] -%}
    {%- for name, column in columns.items() -%}
        {%- if column.get('constraints', []) | selectattr('type', 'equalto', 'not_null') | list -%}
            {%- do constrained.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not constrained -%}{{ return(none) }}{%- endif -%}
    {%- set counts -%}
        select
        {%- for name in constrained %}
            sum(case when {{ adapter.quote(name) }} is null then 1 else 0 end) as {{ adapter.quote(name) }}
            {%- if not loop.last %},{% endif -%}
        {%- endfor %}
        from {{ relation }}
    {%- endset -%}
    {%- set row = run_query(counts).rows[0] -%}
    {%- set broken = [] -%}
    {%- for name in constrained -%}
        {%- if (row[loop.index0] or 0) > 0 -%}
            {%- do broken.append(name ~ ' (' ~ row[loop.index0] ~ ' rows)') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if broken -%}
        {{ exceptions.raise_compiler_error(
            'not_null constraint violated in ' ~ relation ~ ': null in ' ~ broken | join(', ')
            ~ ". The model's contract declares these columns not null (dbt_project/models/marts).") }}
    {%- endif -%}
{% endmacro %}
