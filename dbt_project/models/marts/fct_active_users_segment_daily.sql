{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    pre_hook="{{ delete_processed_days('activity_date', daily_mart_last_day()) }}",
) }}
{#- DAU, WAU and MAU per segment of the users' country, acquisition channel and signup cohort (quarter), one
    row per day, dimension and segment, counted like fct_active_users_daily (a user counts once per window).
    A segment has a row on the days one of its users is in a window (MAU or WAU above 0), so thousands of rare
    segments cost their active spans, not every day of history. For each day and dimension the segments
    sum to fct_active_users_daily (each user is in one segment of each dimension). Incremental: a daily run
    re-computes its processed days. -#}
{%- set widest_window = [var('mau_window_days'), var('wau_window_days')] | max %}
{%- set segment_columns = ['country', 'acquisition_channel', 'signup_cohort'] %}  {#- users without a users row: 'unknown' #}

with bounds as (
    {{ daily_mart_bounds(ref('int_user_activity_daily'), widest_window) }}
),

activity as (
    {{ daily_mart_activity(ref('int_user_activity_daily')) }}
),

-- The written days' user-days, with their users' segments: DAU.
activity_segments as (
    select
        activity.user_id,
        activity.activity_date,
        {%- for column in segment_columns %}
        coalesce(segments.{{ column }}, 'unknown') as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from activity
    cross join bounds
    left join {{ ref('int_user_segments') }} as segments on segments.user_id = activity.user_id
    where activity.activity_date >= bounds.first_day
),

days as (
    {{ daily_mart_spine() }}
),

daily as (
    {{ by_user_dimension('activity_segments', 'activity_date', 'count(*) as dau') }}
),

-- Each user's window edges once (a user is in one segment of each dimension), then summed per segment.
user_changes as (
    {{ rolling_active_users('activity', [var('wau_window_days'), var('mau_window_days')], partition_by='user_id') }}
),

user_changes_segments as (
    select
        user_changes.change_date,
        case when user_changes.window_days = {{ var('wau_window_days') }} then user_changes.delta else 0 end
            as wau_delta,
        case when user_changes.window_days = {{ var('mau_window_days') }} then user_changes.delta else 0 end
            as mau_delta,
        {%- for column in segment_columns %}
        coalesce(segments.{{ column }}, 'unknown') as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from user_changes
    left join {{ ref('int_user_segments') }} as segments on segments.user_id = user_changes.user_id
),

changes as (
    {{ by_user_dimension('user_changes_segments', 'change_date', 'sum(wau_delta) as wau_delta, sum(mau_delta) as mau_delta') }}
),

-- A segment's days: from its first change (the first of its users entering a window) until its users have
-- left the widest window after its last change; days without a user in a window are dropped below.
spans as (
    select dimension, segment, min(change_date) as first_change, max(change_date) as last_change
    from changes
    group by dimension, segment
),

running as (
    select
        spans.dimension,
        spans.segment,
        days.activity_date,
        coalesce(daily.dau, 0) as dau,
        sum(coalesce(changes.wau_delta, 0)) over (
            partition by spans.dimension, spans.segment order by days.activity_date
            rows between unbounded preceding and current row
        ) as wau,
        sum(coalesce(changes.mau_delta, 0)) over (
            partition by spans.dimension, spans.segment order by days.activity_date
            rows between unbounded preceding and current row
        ) as mau
    from spans
    inner join days
        on days.activity_date >= spans.first_change
        and days.activity_date <= {{ dbt.dateadd('day', widest_window - 1, 'spans.last_change') }}
    left join daily
        on daily.dimension = spans.dimension and daily.segment = spans.segment
        and daily.activity_date = days.activity_date
    left join changes
        on changes.dimension = spans.dimension and changes.segment = spans.segment
        and changes.change_date = days.activity_date
),

final as (
    select
        running.activity_date,
        running.dimension,
        running.segment,
        cast(running.dau as bigint) as dau,
        cast(running.wau as bigint) as wau,
        cast(running.mau as bigint) as mau
    from running
    cross join bounds
    -- Only days with a user in the segment's widest window: the same rows whether built at once or day by day.
    where running.activity_date >= bounds.first_day and running.mau + running.wau > 0
)

select * from final
