{#- dbt's is_incremental(), except under `dbt compile --no-introspect` (the offline Snowflake compile in
    CI), where asking the warehouse whether the table exists is not possible: compile the full build. -#}
{% macro is_incremental() -%}
    {%- if execute and not flags.INTROSPECT -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}
