{{ config(materialized='table') }}
{#- Acquisition series per day, for every acquisition channel (from its first signup, spend or new
    customer to 56 days after its last) and 'all', with their bands (macros/series_bands.sql):
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

channel_days as (
    select metric_date, channel, sum(signups) as signups, sum(spend_usd) as spend_usd, sum(new_customers) as new_customers
    from (
        select metric_date, channel, signups, 0 as spend_usd, 0 as new_customers from signups_by_channel
        union all
        select spend_date, channel, 0, spend_usd, 0 from spend_by_channel
        union all
        select metric_date, channel, 0, 0, new_customers from new_customers_by_channel
    ) as figures
    group by metric_date, channel
),

-- A channel has a row on every day from its first activity to 56 days after its last (the 8 weeks a weekday
-- band learns from): a channel that goes quiet is seen going to 0, one quiet for longer is no longer news, and
-- thousands of one-day channels cost 57 rows each, not one per day of history.
channel_spans as (
    select channel, min(metric_date) as first_active, max(metric_date) as last_active
    from channel_days
    group by channel
),

daily as (
    select
        days.activity_date as metric_date,
        channel_spans.channel as segment,
        coalesce(channel_days.signups, 0) as signups,
        coalesce(channel_days.spend_usd, 0) as spend_usd,
        coalesce(channel_days.new_customers, 0) as new_customers
    from channel_spans
    inner join days
        on days.activity_date >= channel_spans.first_active
        and days.activity_date <= {{ dbt.dateadd('day', 56, 'channel_spans.last_active') }}
    left join channel_days
        on channel_days.channel = channel_spans.channel and channel_days.metric_date = days.activity_date
    union all
    select
        days.activity_date,
        'all',
        coalesce(sum(channel_days.signups), 0),
        coalesce(sum(channel_days.spend_usd), 0),
        coalesce(sum(channel_days.new_customers), 0)
    from days
    left join channel_days on channel_days.metric_date = days.activity_date
    group by days.activity_date
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
