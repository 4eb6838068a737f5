{#- A user's acquisition channel as every model reads it: a signup without one (null or blank) still counts in
    every total, under 'unknown'. -#}
{% macro acquisition_channel(column) -%}
    case
        when {{ column }} is null or trim(cast({{ column }} as varchar)) = '' then 'unknown'
        else cast({{ column }} as varchar)
    end
{%- endmacro %}
