{#- dbt's own noop_statement (global_project/macros/etc/statement.sql), except that a seed's "runtime SQL" is
    not written. dbt writes it to target/run/<package>/<the seed's path>, and a seed read from a project's own
    folder (KPIWATCH_SEEDS_DIR, an absolute path) has an absolute path, so dbt would overwrite the CSV itself
    with a create-table statement. Guarded by tests/test_wheel.py (the project's seed file is unchanged). -#}
{% macro noop_statement(name=None, message=None, code=None, rows_affected=None, res=None) -%}
  {%- set sql = caller() -%}

  {%- if name == 'main' and model.resource_type != 'seed' -%}
    {{ log('Writing runtime SQL for node "{}"'.format(model['unique_id'])) }}
    {{ write(sql) }}
  {%- endif -%}

  {%- if name is not none -%}
    {{ store_raw_result(name, message=message, code=code, rows_affected=rows_affected, agate_table=res) }}
  {%- endif -%}

{%- endmacro %}
