{#- The marts' contract constraints on Spark (DECISIONLOG "Constraints instead of tests on the marts").

    DuckDB and Postgres refuse a row that breaks a constraint (not null, primary key, unique, check) while the model
    writes its table, so the marts carry no test for what a constraint says. dbt-spark enforces constraints only on
    Delta tables, and it assumes Delta when `file_format` is unset: it would `alter table ... change column ... set
    not null` on the Parquet tables this project builds with open-source Spark, which Spark refuses. Here, a Delta
    table gets dbt-spark's own constraints; any other table is checked after it is written (one query for its not
    null and check constraints, one per key), and the model fails naming each broken constraint and how many rows
    break it, as a failed constraint does on the other engines. -#}
{% macro spark__persist_constraints(relation, model) %}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced and config.get('file_format') == 'delta' -%}
        {% do alter_table_add_constraints(relation, model.constraints) %}
        {% do alter_column_set_constraints(relation, model.columns) %}
    {%- elif contract_config.enforced -%}
        {% do check_contract_constraints(relation, model) %}
    {%- endif -%}
{% endmacro %}

{#- The model's constraints as checks: (label, condition a breaking row meets) and keys (label, columns). -#}
{% macro contract_constraint_checks(model) %}
    {%- set rows, keys = [], [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- for constraint in column.get('constraints', []) -%}
            {%- if constraint.type == 'not_null' -%}
                {%- do rows.append(('not_null ' ~ name, adapter.quote(name) ~ ' is null')) -%}
            {%- elif constraint.type == 'check' -%}
                {%- do rows.append(('check ' ~ name ~ ': ' ~ constraint.expression, 'not (' ~ constraint.expression ~ ')')) -%}
            {%- elif constraint.type in ('unique', 'primary_key') -%}
                {%- do keys.append((constraint.type ~ ' ' ~ name, [name])) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for constraint in model.get('constraints', []) -%}
        {%- if constraint.type == 'check' -%}
            {%- do rows.append(('check ' ~ (constraint.name or constraint.expression), 'not (' ~ constraint.expression ~ ')')) -%}
        {%- elif constraint.type in ('unique', 'primary_key') -%}
            {%- do keys.append((constraint.type ~ ' (' ~ constraint.columns | join(', ') ~ ')', constraint.columns)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return((rows, keys)) }}
{% endmacro %}

{% macro check_contract_constraints(relation, model) %}
    {%- set rows, keys = contract_constraint_checks(model) -%}
    {%- set broken = [] -%}
    {%- if rows -%}
        {%- set counts -%}
            select
            {%- for label, condition in rows %}
                sum(case when {{ condition }} then 1 else 0 end) as broken_{{ loop.index }}
                {%- if not loop.last %},{% endif -%}
            {%- endfor %}
            from {{ relation }}
        {%- endset -%}
        {%- set row = run_query(counts).rows[0] -%}
        {%- for label, condition in rows -%}
            {%- if (row[loop.index0] or 0) > 0 -%}
                {%- do broken.append(label ~ ' (' ~ row[loop.index0] ~ ' rows)') -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for label, columns in keys -%}
        {%- set quoted = [] -%}
        {%- for name in columns -%}{%- do quoted.append(adapter.quote(name)) -%}{%- endfor -%}
        {%- set duplicates -%}
            select count(*) from (
                select {{ quoted | join(', ') }}
                from {{ relation }}
                where {{ quoted | join(' is not null and ') }} is not null
                group by {{ quoted | join(', ') }}
                having count(*) > 1
            ) as duplicate_keys
        {%- endset -%}
        {%- set repeated = run_query(duplicates).rows[0][0] or 0 -%}
        {%- if repeated > 0 -%}
            {%- do broken.append(label ~ ' (' ~ repeated ~ ' keys repeated)') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if broken -%}
        {{ exceptions.raise_compiler_error(
            'contract constraint violated in ' ~ relation ~ ': ' ~ broken | join('; ')
            ~ ". The model's contract declares these constraints (dbt_project/models/marts).") }}
    {%- endif -%}
{% endmacro %}
