{#- Model-level invariant: every row must satisfy `expression` (rows that do not are returned as failures). -#}
{% test expression_is_true(model, expression, where_clause=none) %}

select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %} and ({{ where_clause }}){% endif %}

{% endtest %}
