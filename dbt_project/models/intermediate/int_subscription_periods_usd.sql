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
        -- Monthly-normalised USD value: an annual price counts one twelfth per month.
        -- An unknown currency or interval gives null here and fails the tests below, never a silent zero.
        cast(
            case periods.billing_interval
                when 'month' then periods.amount * rates.usd_per_unit
                when 'year' then periods.amount * rates.usd_per_unit / 12
            end as decimal(38, 6)
        ) as mrr_usd,
        periods.started_at,
        periods.ended_at_as_of as ended_at
    from periods
    left join rates on rates.currency = periods.currency
)

select * from converted
