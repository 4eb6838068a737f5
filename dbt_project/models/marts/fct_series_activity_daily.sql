{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_processed_days('metric_date', daily_mart_last_day('metric_date')) }}",
) }}
{#- The activity series the anomaly bands watch, one row per day, metric and segment, with the band
    learnt from the days before (macros/series_bands.sql). Values are the marts' own. -#}

with bounds as (
    {{ series_bounds(ref('fct_active_users_daily'), 'min(activity_date)') }}
),

active_users as (
    select active.*
    from {{ ref('fct_active_users_daily') }} as active
    cross join bounds
    where active.activity_date >= bounds.first_day and active.activity_date <= bounds.last_day
),

adoption as (
    select adoption.*
    from {{ ref('fct_feature_adoption_daily') }} as adoption
    cross join bounds
    where adoption.activity_date >= bounds.first_day and adoption.activity_date <= bounds.last_day
),

features as (
    select distinct feature from {{ ref('feature_map') }}
),

feature_users as (
    select feature_activity.feature, feature_activity.activity_date, count(*) as users
    from {{ ref('int_user_feature_daily') }} as feature_activity
    cross join bounds
    where feature_activity.activity_date >= bounds.first_day and feature_activity.activity_date <= bounds.last_day
    group by feature_activity.feature, feature_activity.activity_date
),

activity_series as (
    select activity_date as metric_date, 'dau' as metric, 'all' as segment, cast(dau as double) as value
    from active_users
    union all
    select activity_date, 'wau', 'all', cast(wau as double) from active_users
    union all
    select activity_date, 'mau', 'all', cast(mau as double) from active_users
    union all
    select activity_date, 'stickiness', 'all', cast(dau_mau_ratio as double) from active_users
    union all
    select activity_date, 'feature_adoption', feature, cast(adoption_rate as double) from adoption
    union all
    -- Users of each feature that day: a feature that goes dark shows here at once, in its 30-day adoption
    -- only as its adopters age out.
    select active_users.activity_date, 'feature_users', features.feature, cast(coalesce(feature_users.users, 0) as double)
    from active_users
    cross join features
    left join feature_users
        on feature_users.activity_date = active_users.activity_date and feature_users.feature = features.feature
),

new_series as (
    select *, cast(null as double) as sample_size from activity_series
),

{{ series_with_bands(['dau', 'stickiness', 'feature_users']) }}
