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
    select user_activity.user_id, user_activity.activity_date
    from {{ ref('int_user_activity_daily') }} as user_activity
    cross join bounds
    where user_activity.activity_date >= bounds.read_from and user_activity.activity_date <= bounds.last_day
),

days as (
    {{ daily_mart_spine() }}
),

daily as (
    select activity_date, count(*) as dau
    from activity
    group by activity_date
),

weekly_changes as (
    {{ rolling_active_users('activity', var('wau_window_days')) }}
),

monthly_changes as (
    {{ rolling_active_users('activity', var('mau_window_days')) }}
),

running as (
    select
        days.activity_date,
        coalesce(daily.dau, 0) as dau,
        sum(coalesce(weekly_changes.delta, 0)) over (order by days.activity_date rows between unbounded preceding and current row) as wau,
        sum(coalesce(monthly_changes.delta, 0)) over (order by days.activity_date rows between unbounded preceding and current row) as mau
    from days
    left join daily on daily.activity_date = days.activity_date
    left join weekly_changes on weekly_changes.change_date = days.activity_date
    left join monthly_changes on monthly_changes.change_date = days.activity_date
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
