{#- The watched metrics a company declared in dbt's semantic layer, as (metric, method, segment_column, segment,
    sql) rows (segment_column: the group-by column of a split metric's values; else segment: all or other): kpiwatch writes
    them to semantic.declared_series_queries before each build (kpiwatch/semantic_layer.py compiles MetricFlow's
    SQL of each metric by day, for this warehouse's dialect). Read at execution time only: no rows at parse time,
    when introspection is off (`dbt compile --no-introspect`), or before the first kpiwatch run wrote the table. -#}
{% macro declared_series_queries() -%}
    {%- if not execute or not flags.INTROSPECT -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(database=target.database, schema='semantic', identifier='declared_series_queries') -%}
    {%- if relation is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set table = run_query('select metric, method, segment_column, segment, query_sql from ' ~ relation ~ ' order by metric, segment_column nulls first, segment') -%}
    {{ return(table.rows) }}
{%- endmacro %}
