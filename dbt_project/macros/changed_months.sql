{#-
  Monthly marts rebuilt only from the first month whose inputs changed (issue 27), for models whose inputs are
  whole tables rebuilt every run (subscription periods, customers, users), so dbt's incremental filters on a
  date cannot say what changed. Each run fingerprints the inputs of every month (row counts and summed row
  hashes, computed in the warehouse: a few grouped scans of small tables), compares them with the fingerprints
  the last successful build stored beside the model (`<model>__inputs`), and rebuilds the months from the
  first that differs (later months follow from earlier ones). A full refresh, or no stored fingerprints,
  rebuilds every month. The fingerprints are written by the model's post-hook, in its transaction.

  `inputs_sql` selects (month, *columns): one row per month of the spine; a column that is the same on every
  row (a fingerprint of something every month reads) rebuilds all months when it changes.
-#}

{% macro changed_months_relations() -%}
    {%- set current = api.Relation.create(database=this.database, schema=this.schema, identifier=this.identifier ~ '__inputs_now') -%}
    {%- set stored = api.Relation.create(database=this.database, schema=this.schema, identifier=this.identifier ~ '__inputs') -%}
    {{ return({'current': current, 'stored': stored}) }}
{%- endmacro %}

{#- Pre-hooks: the inputs of this run; then, in incremental runs, the months to rebuild are deleted. -#}
{% macro changed_months_snapshot(inputs_sql) -%}
    create or replace table {{ changed_months_relations().current }} as {{ inputs_sql }}
{%- endmacro %}

{% macro changed_months_delete(columns) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where month >= ({{ changed_months_first(columns) }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The first month to rebuild: the earliest whose fingerprint differs from the stored one, or that exists on one
    side only; every month when nothing is stored; after the last month when nothing changed. -#}
{% macro changed_months_first(columns) -%}
    {%- set relations = changed_months_relations() -%}
    {%- set incremental = is_incremental() -%}
    {%- set stored = adapter.get_relation(relations.stored.database, relations.stored.schema, relations.stored.identifier) if incremental else none -%}
    {%- if stored is none -%}
    select cast('1000-01-01' as date) as first_month
    {%- else -%}
    select coalesce(min(coalesce(now.month, before.month)), cast('9999-12-01' as date)) as first_month
    from {{ relations.current }} as now
    full outer join {{ relations.stored }} as before on before.month = now.month
    where now.month is null or before.month is null
        {%- for column in columns %}
        or now.{{ column }} is distinct from before.{{ column }}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: what was built from becomes what the next run compares with. -#}
{% macro changed_months_store() -%}
    {%- set relations = changed_months_relations() -%}
    create or replace table {{ relations.stored }} as select * from {{ relations.current }}
{%- endmacro %}

{% macro changed_months_drop_snapshot() -%}
    drop table if exists {{ changed_months_relations().current }}
{%- endmacro %}
