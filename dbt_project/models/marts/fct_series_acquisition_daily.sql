{{ config(materialized='table') }}
{#- Signups and marketing spend (USD) per day, with their bands (macros/series_bands.sql). A day without
    signups or spend is a 0, not a missing day. A table rebuilt by every run (users and spend are small next
    to events), so a late or corrected row changes every day it belongs to. -#}

with bounds as (
    {{ series_bounds(ref('stg_users'), 'cast(min(created_at) as date)') }}
),

days as (
    {{ daily_mart_spine() }}
),

signups as (
    select cast(users.created_at as date) as signup_date, count(*) as signups
    from {{ ref('stg_users') }} as users
    cross join bounds
    where users.created_at >= cast(bounds.first_day as timestamp)
    group by cast(users.created_at as date)
),

spend as (
    select spend.spend_date, sum(spend.amount * rates.usd_per_unit) as spend_usd
    from {{ ref('stg_marketing_spend') }} as spend
    inner join {{ ref('fx_rates') }} as rates on rates.currency = spend.currency
    cross join bounds
    where spend.spend_date >= bounds.first_day
    group by spend.spend_date
),

new_series as (
    select days.activity_date as metric_date, 'signups' as metric, 'all' as segment, cast(coalesce(signups.signups, 0) as double) as value
    from days
    left join signups on signups.signup_date = days.activity_date
    union all
    select days.activity_date, 'spend', 'all', cast(coalesce(spend.spend_usd, 0) as double)
    from days
    left join spend on spend.spend_date = days.activity_date
),

{{ series_with_bands(['signups', 'spend']) }}
