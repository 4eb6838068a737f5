{#- The evaluation date and the first instant after it. Everything at or after the cutoff is
    ignored, so a run as of a past date reproduces that day's numbers. -#}
{% macro as_of_date() -%}
    {%- if var('as_of') -%}cast('{{ var("as_of") }}' as date){%- else -%}current_date{%- endif -%}
{%- endmacro %}

{% macro evaluation_cutoff() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as timestamp)
{%- endmacro %}
