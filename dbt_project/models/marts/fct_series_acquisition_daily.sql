{{ config(materialized='table') }}
{#- Acquisition series per day, for every acquisition channel and 'all', with their bands
    (macros/series_bands.sql):
      signups     users created that day (a day without signups is a 0, not a missing day);
      spend       marketing spend that day, in USD;
      cac_30d     spend of the 30 days ending that day / customers whose first payment fell in them
                  (null without such a customer, and in the first 29 days, whose window is not full);
                  sample_size is those customers, so the verdict widens the band by the noise of few.
    A table rebuilt by every run (users, subscriptions and spend are small next to events), so a late or
    corrected row changes every day it belongs to. -#}

with bounds as (
    {{ series_bounds(ref('stg_users'), 'cast(min(created_at) as date)') }}
),

days as (
    {{ daily_mart_spine() }}
),

users as (
    select users.user_id, users.acquisition_channel as channel, users.created_at
    from {{ ref('stg_users') }} as users
    cross join bounds
    where users.created_at >= cast(bounds.first_day as timestamp)
),

first_payment as (
    select user_id, min(started_at) as first_paid_at
    from {{ ref('stg_subscriptions') }}
    where amount > 0
    group by user_id
),

spend_by_channel as (
    select spend.spend_date, spend.channel, sum(spend.amount * rates.usd_per_unit) as spend_usd
    from {{ ref('stg_marketing_spend') }} as spend
    inner join {{ ref('fx_rates') }} as rates on rates.currency = spend.currency
    cross join bounds
    where spend.spend_date >= bounds.first_day
    group by spend.spend_date, spend.channel
),

channels as (
    select channel from users
    union
    select channel from spend_by_channel
),

segments as (
    select channel as segment from channels
    union all
    select 'all'
),

signups_by_channel as (
    select cast(created_at as date) as metric_date, channel, count(*) as signups
    from users
    group by cast(created_at as date), channel
),

new_customers_by_channel as (
    select cast(first_payment.first_paid_at as date) as metric_date, users.channel, count(*) as new_customers
    from users
    inner join first_payment on first_payment.user_id = users.user_id
    group by cast(first_payment.first_paid_at as date), users.channel
),

-- Every day x segment, each channel's figures and their sum under 'all'.
daily as (
    select
        days.activity_date as metric_date,
        segments.segment,
        coalesce(sum(signups_by_channel.signups), 0) as signups,
        coalesce(sum(spend_by_channel.spend_usd), 0) as spend_usd,
        coalesce(sum(new_customers_by_channel.new_customers), 0) as new_customers
    from days
    cross join segments
    left join channels on segments.segment in (channels.channel, 'all')
    left join signups_by_channel
        on signups_by_channel.metric_date = days.activity_date and signups_by_channel.channel = channels.channel
    left join spend_by_channel
        on spend_by_channel.spend_date = days.activity_date and spend_by_channel.channel = channels.channel
    left join new_customers_by_channel
        on new_customers_by_channel.metric_date = days.activity_date
        and new_customers_by_channel.channel = channels.channel
    group by days.activity_date, segments.segment
),

trailing_30d as (
    select
        *,
        sum(spend_usd) over (partition by segment order by metric_date rows between 29 preceding and current row)
            as spend_30d,
        sum(new_customers) over (partition by segment order by metric_date rows between 29 preceding and current row)
            as new_customers_30d,
        row_number() over (partition by segment order by metric_date) as day_number
    from daily
),

new_series as (
    select metric_date, 'signups' as metric, segment, cast(signups as double) as value, cast(null as double) as sample_size
    from daily
    union all
    select metric_date, 'spend', segment, cast(spend_usd as double), cast(null as double) from daily
    union all
    select
        metric_date, 'cac_30d', segment,
        case when day_number >= 30 then cast(spend_30d as double) / nullif(new_customers_30d, 0) end,
        cast(new_customers_30d as double)
    from trailing_30d
),

{{ series_with_bands(['signups', 'spend']) }}
