{{ config(materialized='table') }}
{#- 30-day signup-to-paid conversion of each signup week (Monday to Sunday), per acquisition channel and
    'all', with its band (macros/series_bands.sql). A cohort is dated on the day its last signup's window
    closes (week start + 6 + conversion_window_days), so it is judged as soon as it is complete and never
    before, and every cohort falls on the same weekday: the band learns from the 8 cohorts before it.
    Same conversion rule as fct_conversion_monthly (a first paid period starting within the window);
    sample_size is the cohort's signups, so the verdict widens the band by the rate's binomial noise.
    A table rebuilt by every run. -#}

with bounds as (
    {{ series_bounds(ref('stg_users'), 'cast(min(created_at) as date)') }}
),

users as (
    select users.user_id, users.acquisition_channel as channel, users.created_at
    from {{ ref('stg_users') }} as users
),

first_payment as (
    select user_id, min(started_at) as first_paid_at
    from {{ ref('stg_subscriptions') }}
    where amount > 0
    group by user_id
),

segments as (
    select distinct channel as segment from users
    union all
    select 'all'
),

cohorts as (
    select
        {{ week_start('users.created_at') }} as signup_week,
        segments.segment,
        count(*) as signups,
        sum(
            case
                when first_payment.first_paid_at
                    < {{ dbt.dateadd('day', var('conversion_window_days'), 'users.created_at') }} then 1
                else 0
            end
        ) as converted
    from users
    inner join segments on segments.segment in (users.channel, 'all')
    left join first_payment on first_payment.user_id = users.user_id
    group by {{ week_start('users.created_at') }}, segments.segment
),

-- A week's cohort is complete on the day its last signup's window closes (7 + window - 1 days after its Monday).
complete_cohorts as (
    select
        cast({{ dbt.dateadd('day', var('conversion_window_days') + 6, 'cohorts.signup_week') }} as date) as metric_date,
        cohorts.segment,
        cohorts.signups,
        cohorts.converted
    from cohorts
    cross join bounds
    where {{ dbt.dateadd('day', var('conversion_window_days') + 6, 'cohorts.signup_week') }} <= bounds.last_day
),

new_series as (
    select
        metric_date, 'conversion' as metric, segment, cast(converted as double) / signups as value,
        cast(signups as double) as sample_size
    from complete_cohorts
),

{{ series_with_bands([], [], ['conversion']) }}
