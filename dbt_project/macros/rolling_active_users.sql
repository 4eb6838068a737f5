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
-#}
{% macro rolling_active_users(activity_relation, windows, partition_by=none) -%}
{%- set part = partition_by ~ ', ' if partition_by else '' -%}
with neighbours as (
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

select
    {{ part }}window_days,
    change_date,
    sum(delta) as delta
from changes
group by {{ part }}window_days, change_date
{%- endmacro %}
