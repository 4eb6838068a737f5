{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    pre_hook="{{ delete_processed_days('activity_date', daily_mart_last_day()) }}",
) }}
{%- set widest_window = [var('mau_window_days'), var('wau_window_days')] | max %}

with bounds as (
    {{ daily_mart_bounds(ref('int_user_activity_daily'), widest_window) }}
),

-- Only the activity the rolling windows of the written days can see.
activity as (
    {{ daily_mart_activity(ref('int_user_activity_daily')) }}
),

days as (
    {{ daily_mart_spine() }}
),

daily as (
    select activity_date, count(*) as dau
    from activity
    group by activity_date
),

window_changes as (
    {{ rolling_active_users('activity', [var('wau_window_days'), var('mau_window_days')]) }}
),

changes as (
    select
        change_date,
        sum(case when window_days = {{ var('wau_window_days') }} then delta else 0 end) as wau_delta,
        sum(case when window_days = {{ var('mau_window_days') }} then delta else 0 end) as mau_delta
    from window_changes
    group by change_date
),

running as (
    select
        days.activity_date,
        coalesce(daily.dau, 0) as dau,
        sum(coalesce(changes.wau_delta, 0)) over (order by days.activity_date rows between unbounded preceding and current row) as wau,
        sum(coalesce(changes.mau_delta, 0)) over (order by days.activity_date rows between unbounded preceding and current row) as mau
    from days
    left join daily on daily.activity_date = days.activity_date
    left join changes on changes.change_date = days.activity_date
),

final as (
    select
        running.activity_date,
        running.dau,
        cast(running.wau as bigint) as wau,
        cast(running.mau as bigint) as mau,
        cast(running.dau as double) / nullif(running.mau, 0) as dau_mau_ratio
    from running
    cross join bounds
    where running.activity_date >= bounds.first_day
)

select * from final
