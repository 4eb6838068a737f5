with periods as (
    select * from {{ ref('stg_subscriptions') }}
),

rates as (
    select * from {{ ref('fx_rates') }}
),

converted as (
    select
        periods.subscription_id,
        periods.user_id,
        periods.plan,
        periods.billing_interval,
        periods.currency,
        periods.amount,
        rates.usd_per_unit,
        -- Monthly-normalised USD value: an annual price counts one twelfth per month, a weekly one 52 / 12
        -- times, a price every N intervals one Nth of that (Stripe's interval_count).
        -- An unknown currency or interval gives null here and fails the tests below, never a silent zero.
        cast(
            case
                when periods.interval_unit = 'month' and periods.interval_count = 1
                    then periods.amount * rates.usd_per_unit
                when periods.interval_unit = 'month' then periods.amount * rates.usd_per_unit / periods.interval_count
                when periods.interval_unit = 'year' then periods.amount * rates.usd_per_unit / (12 * periods.interval_count)
                when periods.interval_unit = 'week'
                    then periods.amount * rates.usd_per_unit * 52 / (12 * periods.interval_count)
            end as decimal(38, 6)
        ) as mrr_usd,
        periods.started_at,
        periods.ended_at_as_of as ended_at
    from periods
    left join rates on rates.currency = periods.currency
)

select * from converted
