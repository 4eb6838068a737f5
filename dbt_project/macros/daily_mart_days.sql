{#-
  The days a daily mart (re)computes, and the activity its rolling windows need, as one-row `bounds`:
  first_day .. last_day are written; read_from = first_day - (window - 1) is the first activity day read.
  A full build starts at the first activity day; an incremental run at the processing window (never
  before the first activity day, so both give the same rows). No activity at all: just last_day.
-#}
{% macro daily_mart_bounds(activity_relation, window_days) -%}
{%- set last_day = daily_mart_last_day() -%}
select
    first_day,
    cast({{ dbt.dateadd('day', 1 - window_days, 'first_day') }} as date) as read_from,
    {{ last_day }} as last_day
from (
    select
        {%- if is_incremental() %}
        greatest({{ processing_first_day() }}, coalesce(min(activity_date), {{ last_day }})) as first_day
        {%- else %}
        coalesce(min(activity_date), {{ last_day }}) as first_day
        {%- endif %}
    from {{ activity_relation }}
) as first_activity
{%- endmacro %}

{#- One row per day from bounds.read_from to bounds.last_day, counted back from last_day (at most 100
    years), so the evaluation day is always there even when a stray timestamp lies decades back. -#}
{% macro daily_mart_spine() -%}
select cast({{ dbt.dateadd('day', '-series.n', 'bounds.last_day') }} as date) as activity_date
from bounds
cross join ({{ integer_series(36600) }}) as series
where {{ dbt.dateadd('day', '-series.n', 'bounds.last_day') }} >= bounds.read_from
{%- endmacro %}

{#- The rows of `activity_relation` (one per user or feature and day) the rolling windows of the written days
    can see: from bounds.read_from to bounds.last_day. -#}
{% macro daily_mart_activity(activity_relation, columns=['user_id', 'activity_date']) -%}
select {% for column in columns %}activity.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ activity_relation }} as activity
    cross join bounds
    where activity.activity_date >= bounds.read_from and activity.activity_date <= bounds.last_day
{%- endmacro %}

{#- At most how many days an incremental run of a daily mart writes: from its first processed day (the
    window start minus the look-back) to daily_mart_last_day; none when not known before the run (a full
    build, a run without an as_of). -#}
{% macro written_days_at_most(date_column='activity_date') -%}
    {%- if not (execute and is_incremental()) or not run_setting('as_of') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set as_of = modules.datetime.date.fromisoformat(run_setting('as_of') | string) -%}
    {%- set start = modules.datetime.date.fromisoformat((run_setting('window_start') or run_setting('as_of')) | string) -%}
    {%- set lookback = run_setting('lookback_days') -%}
    {%- set last = namespace(day=as_of) -%}
    {%- set newest = run_query('select max(' ~ date_column ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- if newest is not none and newest | string > as_of | string -%}
        {%- set last.day = modules.datetime.date.fromisoformat(newest | string) -%}
    {%- endif -%}
    {{ return((last.day - start).days + (3 if lookback is none else lookback | int) + 1) }}
{%- endmacro %}
