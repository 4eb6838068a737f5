{#-
  Distinct users active in the trailing window of `window_days` days ending on each date,
  per optional partition column, in one pass over user-days instead of a window-sized join.

  Each active day covers the dates [day, day + window_days). Consecutive days whose coverage
  touches merge into one island per user; a user counts on a date exactly when one of their
  islands covers it. So +1 at each island start and -1 after its end, summed over dates, gives
  the distinct count. Returns (partition, change_date, delta): the running sum of delta over a
  date spine that starts on or before the first activity date is the active-user count.
-#}
{% macro rolling_active_users(activity_relation, window_days, partition_by=none) -%}
{%- set part = partition_by ~ ', ' if partition_by else '' -%}
with ordered as (
    select
        {{ part }}user_id,
        activity_date,
        lag(activity_date) over (partition by {{ part }}user_id order by activity_date) as previous_activity_date
    from {{ activity_relation }}
),

flagged as (
    select
        *,
        case
            when previous_activity_date is null then 1
            when {{ days_between('previous_activity_date', 'activity_date') }} > {{ window_days }} then 1
            else 0
        end as starts_island
    from ordered
),

numbered as (
    select
        *,
        sum(starts_island) over (
            partition by {{ part }}user_id order by activity_date rows between unbounded preceding and current row
        ) as island_number
    from flagged
),

islands as (
    select
        {{ part }}user_id,
        island_number,
        min(activity_date) as covered_from,
        cast({{ dbt.dateadd('day', window_days, 'max(activity_date)') }} as date) as covered_until
    from numbered
    group by {{ part }}user_id, island_number
),

changes as (
    select {{ part }}covered_from as change_date, 1 as delta from islands
    union all
    select {{ part }}covered_until as change_date, -1 as delta from islands
)

select
    {{ part }}change_date,
    sum(delta) as delta
from changes
group by {{ part }}change_date
{%- endmacro %}
