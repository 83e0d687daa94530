{#- The status band of a health score under the thresholds in force: green at or above green_min, red below
    red_below, yellow between. One definition for the daily status and for the calibration report. -#}
{% macro health_band(score, red_below, green_min) -%}
    case
        when {{ score }} >= {{ green_min }} then 'green'
        when {{ score }} < {{ red_below }} then 'red'
        else 'yellow'
    end
{%- endmacro %}
