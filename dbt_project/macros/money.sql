{#- Stripe amounts are integers in the currency's minor unit. Zero-decimal currencies (Stripe's documented list)
    have no minor unit; all others used by Stripe have two decimals (three-decimal ones are not sold here). -#}
{% macro minor_units_to_amount(amount_column, currency_column) -%}
    (({{ amount_column }}) / case
        when upper({{ currency_column }}) in ('BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG',
                                               'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') then 1.0
        else 100.0
    end)
{%- endmacro %}
