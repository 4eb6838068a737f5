with source as (
    select * from {{ source('raw', 'subscriptions') }}
),

renamed as (
    select
        cast(subscription_id as varchar) as subscription_id,
        cast(user_id as varchar) as user_id,
        cast(plan as varchar) as plan,
        lower(cast(billing_interval as varchar)) as billing_interval_given,
        upper(cast(currency as varchar)) as currency,
        -- 38 digits: an amount times an exchange rate must not overflow (DECIMAL(18) did at 1e8).
        cast(amount as decimal(38, 6)) as amount,
        cast(started_at as timestamp) as started_at,
        cast(ended_at as timestamp) as ended_at
    from source
),

intervals as (
    -- "3 month" is every three months (Stripe's interval_count and interval); "month" alone is one.
    select
        *,
        case
            when billing_interval_given like '% %' then try_cast(split_part(billing_interval_given, ' ', 1) as integer)
            else 1
        end as interval_count,
        case
            when billing_interval_given like '% %' then split_part(billing_interval_given, ' ', 2)
            else billing_interval_given
        end as interval_unit
    from renamed
),

final as (
    select
        subscription_id,
        user_id,
        plan,
        -- One label per interval for segments: "1 month" and "month" are the same plan length.
        case
            when interval_count = 1 then interval_unit
            else cast(interval_count as varchar) || ' ' || interval_unit
        end as billing_interval,
        interval_count,
        interval_unit,
        currency,
        amount,
        started_at,
        ended_at,
        -- Periods that end after the evaluation cutoff were still running as of that day.
        case when ended_at >= {{ evaluation_cutoff() }} then null else ended_at end as ended_at_as_of
    from intervals
    where started_at < {{ evaluation_cutoff() }}
)

select * from final
