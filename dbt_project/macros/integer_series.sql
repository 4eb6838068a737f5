{#- Rows 0 .. n-1 in a column named `n`; n must be a constant. Used for date spines without
    introspective queries, so `dbt compile --no-introspect` works for Snowflake. -#}
{% macro integer_series(n) -%}
    {{ return(adapter.dispatch('integer_series', 'kpiwatch')(n)) }}
{%- endmacro %}

{% macro default__integer_series(n) -%}
    select range as n from range({{ n }})
{%- endmacro %}

{% macro snowflake__integer_series(n) -%}
    select row_number() over (order by seq4()) - 1 as n from table(generator(rowcount => {{ n }}))
{%- endmacro %}
