{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    pre_hook="{{ delete_processed_days('activity_date', daily_mart_last_day()) }}",
) }}

with bounds as (
    {{ daily_mart_bounds(ref('int_user_activity_daily'), var('mau_window_days')) }}
),

feature_activity as (
    {{ daily_mart_activity(ref('int_user_feature_daily'), ['feature', 'user_id', 'activity_date']) }}
),

days as (
    {{ daily_mart_spine() }}
),

features as (
    select distinct feature from {{ ref('feature_map') }}
),

active_users as (
    select activity_date, mau from {{ ref('fct_active_users_daily') }}
),

adopter_changes as (
    {{ rolling_active_users('feature_activity', [var('mau_window_days')], partition_by='feature') }}
),

running as (
    select
        days.activity_date,
        features.feature,
        sum(coalesce(adopter_changes.delta, 0)) over (
            partition by features.feature order by days.activity_date rows between unbounded preceding and current row
        ) as adopters_30d
    from days
    cross join features
    left join adopter_changes
        on adopter_changes.change_date = days.activity_date and adopter_changes.feature = features.feature
),

final as (
    select
        running.activity_date,
        running.feature,
        cast(running.adopters_30d as bigint) as adopters_30d,
        active_users.mau as active_users_30d,
        cast(running.adopters_30d as double) / nullif(active_users.mau, 0) as adoption_rate
    from running
    cross join bounds
    inner join active_users on active_users.activity_date = running.activity_date
    where running.activity_date >= bounds.first_day
)

select * from final
