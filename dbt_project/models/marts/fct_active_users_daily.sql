with days as (
    select * from {{ ref('int_date_spine') }}
),

daily as (
    select activity_date, count(*) as dau
    from {{ ref('int_user_activity_daily') }}
    group by activity_date
),

weekly_changes as (
    {{ rolling_active_users(ref('int_user_activity_daily'), var('wau_window_days')) }}
),

monthly_changes as (
    {{ rolling_active_users(ref('int_user_activity_daily'), var('mau_window_days')) }}
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
        activity_date,
        dau,
        cast(wau as bigint) as wau,
        cast(mau as bigint) as mau,
        cast(dau as double) / nullif(mau, 0) as dau_mau_ratio
    from running
)

select * from final
