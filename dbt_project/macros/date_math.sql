{#- Date arithmetic with one meaning on DuckDB and Snowflake (tests/test_date_macros.py runs the same
    edge cases on both). Dates only: timestamps are cast to their UTC day first. -#}

{#- Calendar-month boundaries crossed: Jan 31 -> Feb 1 is 1 month, Jan 1 -> Jan 31 is 0. -#}
{% macro months_between(start_date, end_date) -%}
    {{ dbt.datediff('cast(' ~ start_date ~ ' as date)', 'cast(' ~ end_date ~ ' as date)', 'month') }}
{%- endmacro %}

{#- Whole 7-day periods between two days (not calendar-week boundaries, whose start day differs by
    engine setting): Mon -> Sun is 0 weeks, Mon -> next Mon is 1. -#}
{% macro weeks_between(start_date, end_date) -%}
    cast(floor({{ days_between(start_date, end_date) }} / 7) as integer)
{%- endmacro %}

{% macro days_between(start_date, end_date) -%}
    {{ dbt.datediff('cast(' ~ start_date ~ ' as date)', 'cast(' ~ end_date ~ ' as date)', 'day') }}
{%- endmacro %}

{#- The first day of the month of a date or timestamp, as a date. -#}
{% macro month_start(value) -%}
    cast({{ dbt.date_trunc('month', value) }} as date)
{%- endmacro %}

{#- The Monday of a date's week (UTC day), whatever the engine's week setting: counted in whole weeks from
    Monday 2001-01-01. -#}
{% macro week_start(value) -%}
    cast({{ dbt.dateadd('day', '7 * ' ~ weeks_between("cast('2001-01-01' as date)", value), "cast('2001-01-01' as date)") }} as date)
{%- endmacro %}
