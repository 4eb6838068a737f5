{#-
  Distinct users active in the trailing window of W days ending on each date, for every W in
  `windows`, per optional partition column, in one sorted pass over user-days instead of a
  window-sized join.

  Each active day covers the dates [day, day + W). Consecutive active days of a user less than W
  apart overlap, so a user's coverage is a union of "islands": one starts on an active day with no
  active day in the W days before it, and ends W days after an active day with none in the W days
  after it. A user counts on a date exactly when one island covers it, so +1 at every island start
  and -1 at every island end, summed over dates, is the distinct count. The previous and next
  active day of every row (one sort, shared by all windows) are all it takes.

  Returns (partition, window_days, change_date, delta): the running sum of delta for one window over
  a date spine that starts on or before the first activity date is that window's active-user count.

  A daily run writes a few days (the day and its look-back): when they are no more than the narrowest
  window, rolling_active_users_few_days gives the same counts on the written days without the sort.
-#}
{% macro rolling_active_users(activity_relation, windows, partition_by=none) -%}
{%- set part = partition_by ~ ', ' if partition_by else '' -%}
{%- set written = written_days_at_most() -%}
with
{%- if written is not none and written <= windows | min %}
{{ rolling_active_users_few_days(activity_relation, windows, part) }}
{%- else %}
neighbours as (
    select
        {{ part }}activity_date,
        lag(activity_date) over (partition by {{ part }}user_id order by activity_date) as previous_activity_date,
        lead(activity_date) over (partition by {{ part }}user_id order by activity_date) as next_activity_date
    from {{ activity_relation }}
),

-- Each window has two edges: +1 where an island starts, -1 where one ends.
edges as (
    {%- for window_days in windows | unique %}
    select {{ window_days }} as window_days, 1 as delta
    union all
    select {{ window_days }} as window_days, -1 as delta
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

changes as (
    select
        {{ part }}edges.window_days,
        case
            when edges.delta = 1 then neighbours.activity_date
            else cast({{ dbt.dateadd('day', 'edges.window_days', 'neighbours.activity_date') }} as date)
        end as change_date,
        edges.delta
    from neighbours
    cross join edges
    where case
        when edges.delta = 1 then neighbours.previous_activity_date is null
            or {{ days_between('neighbours.previous_activity_date', 'neighbours.activity_date') }} > edges.window_days
        else neighbours.next_activity_date is null
            or {{ days_between('neighbours.activity_date', 'neighbours.next_activity_date') }} > edges.window_days
    end
)
{%- endif %}

select
    {{ part }}window_days,
    change_date,
    sum(delta) as delta
from changes
group by {{ part }}window_days, change_date
{%- endmacro %}

{#-
  The CTEs up to `changes` for the same counts on the written days bounds.first_day .. last_day when there are
  at most W of them (W the narrowest window), from two facts per user (one hash aggregation, no sort): the last active day before the
  written days (last_before) and the first one among them (first_within). Any active day among the written
  days covers every later written day (they are fewer than W apart), so on the written days a user counts
  in [first_day, last_before + W) and from first_within on: +1 at first_day, and where those two intervals
  do not touch, -1 at last_before + W and +1 at first_within. Days before first_day are not written and are
  not counted right; the consumers keep only the written days.
-#}
{% macro rolling_active_users_few_days(activity_relation, windows, part) -%}
last_and_first as (
    select
        {{ part }}activity.user_id,
        max(case when activity.activity_date < bounds.first_day then activity.activity_date end) as last_before,
        min(case when activity.activity_date >= bounds.first_day then activity.activity_date end) as first_within,
        min(bounds.first_day) as first_day
    from {{ activity_relation }} as activity
    cross join bounds
    group by {{ part }}activity.user_id
),

windows as (
    {%- for window_days in windows | unique %}
    select {{ window_days }} as window_days{{ ' union all' if not loop.last }}
    {%- endfor %}
),

coverage as (
    select
        {{ part }}windows.window_days,
        last_and_first.first_day,
        last_and_first.first_within,
        case
            when cast({{ dbt.dateadd('day', 'windows.window_days', 'last_and_first.last_before') }} as date) > last_and_first.first_day
                then cast({{ dbt.dateadd('day', 'windows.window_days', 'last_and_first.last_before') }} as date)
        end as covered_until
    from last_and_first
    cross join windows
),

changes as (
    select {{ part }}window_days, first_day as change_date, 1 as delta
    from coverage where covered_until is not null
    union all
    select {{ part }}window_days, covered_until, -1
    from coverage where covered_until is not null and (first_within is null or first_within > covered_until)
    union all
    select {{ part }}window_days, first_within, 1
    from coverage where first_within is not null and (covered_until is null or first_within > covered_until)
)
{%- endmacro %}
