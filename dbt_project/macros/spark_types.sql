{#- The project declares standard SQL type names (varchar, double precision, integer) in model contracts and seed
    column types; DuckDB and Postgres accept them. Spark names them string, double and int (a bare `varchar` is an
    error there), so on Spark the declared names are translated wherever dbt uses them. -#}
{% macro spark_type_name(declared) -%}
    {%- set spark_names = {'varchar': 'string', 'text': 'string', 'double precision': 'double', 'integer': 'int'} -%}
    {{ return(spark_names.get((declared or '') | trim | lower, declared)) }}
{%- endmacro %}

{% macro spark_column_types(model) -%}
    {%- set translated = {} -%}
    {%- for name, declared in model['config'].get('column_types', {}).items() -%}
        {%- do translated.update({name: spark_type_name(declared)}) -%}
    {%- endfor -%}
    {{ return(dict(model, config=dict(model['config'], column_types=translated))) }}
{%- endmacro %}

{#- Model contracts: dbt compares the declared types by casting nulls to them. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set translated = {} -%}
    {%- for name, column in columns.items() -%}
        {%- do translated.update({name: dict(column, data_type=spark_type_name(column.get('data_type')))}) -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(translated)) }}
{%- endmacro %}

{#- Seeds: the column types of the seed's table and of the casts of its rows. -#}
{% macro spark__create_csv_table(model, agate_table) -%}
    {{ return(dbt.spark__create_csv_table(spark_column_types(model), agate_table)) }}
{%- endmacro %}

{#- dbt-spark's session connection binds seed values by plain `%` formatting, so a value with an apostrophe
    ("the account's CSM") breaks the insert: the rows are written as escaped literals instead. -#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- set column_types = spark_column_types(model)['config'].get('column_types', {}) -%}
    {%- set sql -%}
        insert into {{ this.render() }} values
        {%- for row in agate_table.rows %}
        (
            {%- for value in row -%}
                {%- set column = agate_table.column_names[loop.index0] -%}
                cast({{ spark_literal(value) }} as {{ column_types.get(column, adapter.convert_type(agate_table, loop.index0)) }})
                {{- ', ' if not loop.last }}
            {%- endfor -%}
        ){{ ',' if not loop.last }}
        {%- endfor %}
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {{ return(sql) }}
{%- endmacro %}

{% macro spark_literal(value) -%}
    {%- if value is none -%}null
    {%- elif value is sameas true or value is sameas false -%}{{ 'true' if value else 'false' }}
    {%- elif value is number -%}{{ value }}
    {%- else -%}'{{ value | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
