{#- A run setting: `--vars '{"as_of": ...}'` when dbt is called by hand, else the environment variable
    KPIWATCH_DBT_<NAME>, which is how kpiwatch passes them (vars would force a full re-parse of the
    project on every run). The variable is read only when dbt executes: an env_var() read while parsing
    is recorded in the manifest, and a new value (every day's as_of) would make dbt re-parse every file
    that reads it (18 files, 1.3 s of each run). Nothing parsed depends on a run setting. -#}
{% macro run_setting(name) -%}
    {%- if not execute -%}{{ return(var(name, none)) }}{%- endif -%}
    {{ return(var(name, none) or env_var('KPIWATCH_DBT_' ~ (name | upper), '') or none) }}
{%- endmacro %}

{#- The evaluation date and the first instant after it. Everything at or after the cutoff is
    ignored, so a run as of a past date reproduces that day's numbers. -#}
{% macro as_of_date() -%}
    {%- if run_setting('as_of') -%}cast('{{ run_setting("as_of") }}' as date){%- else -%}current_date{%- endif -%}
{%- endmacro %}

{% macro evaluation_cutoff() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as timestamp)
{%- endmacro %}

{#- The days a partitioned (daily) run re-processes: its partition range [window_start, as_of],
    widened by `lookback_days` so late-arriving events of the previous days are picked up. A run
    without window_start processes the single day as_of (plus the look-back). -#}
{% macro window_start_date() -%}
    {%- if run_setting('window_start') -%}cast('{{ run_setting("window_start") }}' as date){%- else -%}{{ as_of_date() }}{%- endif -%}
{%- endmacro %}

{% macro processing_first_day() -%}
    {%- set lookback = run_setting('lookback_days') -%}
    cast({{ dbt.dateadd('day', -1 * (3 if lookback is none else lookback | int), window_start_date()) }} as date)
{%- endmacro %}

{% macro processing_first_month() -%}
    {{ month_start(processing_first_day()) }}
{%- endmacro %}

{% macro processing_start() -%}
    cast({{ processing_first_day() }} as timestamp)
{%- endmacro %}

{#- Incremental models replace the processed days: delete them here (a pre-hook, same transaction),
    insert them again from the model's query. Idempotent, and late rows replace early ones. -#}
{% macro delete_processed_days(date_column, last_day) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ date_column }} >= {{ processing_first_day() }} and {{ date_column }} <= {{ last_day }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The monthly counterpart: the months the processed days fall in, up to the month of as_of. -#}
{% macro delete_processed_months(month_column) -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ month_column }} >= {{ processing_first_month() }} and {{ month_column }} <= {{ month_start(as_of_date()) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Last day a daily mart re-computes. Rolling windows (WAU, MAU) of later days read the re-processed
    days too, so a backfill of a past range re-computes up to the newest day already in the mart. -#}
{% macro daily_mart_last_day(date_column='activity_date') -%}
    {%- set last_day = as_of_date() -%}
    {%- if execute and is_incremental() -%}
        {%- set newest = run_query('select max(' ~ date_column ~ ') from ' ~ this).columns[0].values()[0] -%}
        {%- if newest is not none and run_setting('as_of') and newest | string > run_setting('as_of') | string -%}
            {%- set last_day = "cast('" ~ newest ~ "' as date)" -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(last_day) }}
{%- endmacro %}

{#- Tests on incremental models look at the re-processed days only (the rest was tested when it was
    built); `--full-refresh` tests everything. Used as `where: "__processed_days__(column)"`, or
    `__processed_months__(column)` on a monthly model. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set first_of = {'__processed_days__': processing_first_day(),
                            '__processed_months__': processing_first_month()} -%}
        {#- a namespace: a plain `set` inside a Jinja loop does not outlive the loop -#}
        {%- set resolved = namespace(where=where) -%}
        {%- for token, first in first_of.items() if (token ~ '(') in where -%}
            {%- set column = where.split(token ~ '(')[1].split(')')[0] -%}
            {%- set condition = '1 = 1' if flags.FULL_REFRESH else column ~ ' >= ' ~ first -%}
            {%- set resolved.where = resolved.where.replace(token ~ '(' ~ column ~ ')', condition) -%}
        {%- endfor -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ resolved.where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The staged events an incremental model reads: before the cutoff always (the stg_events view may have
    been built for another evaluation date), and from the first processed day on in incremental runs,
    a filter on the raw timestamp that the warehouse pushes into the scan. -#}
{% macro events_to_process() -%}
    select * from {{ ref('stg_events') }}
    where occurred_at < {{ evaluation_cutoff() }}
    {%- if is_incremental() %}
    and occurred_at >= {{ processing_start() }}
    {%- endif %}
{%- endmacro %}
