with source as (
    select * from {{ source('raw', 'subscriptions') }}
),

renamed as (
    select
        cast(subscription_id as varchar) as subscription_id,
        cast(user_id as varchar) as user_id,
        cast(plan as varchar) as plan,
        lower(cast(billing_interval as varchar)) as billing_interval,
        upper(cast(currency as varchar)) as currency,
        -- 38 digits: an amount times an exchange rate must not overflow (DECIMAL(18) did at 1e8).
        cast(amount as decimal(38, 6)) as amount,
        cast(started_at as timestamp) as started_at,
        cast(ended_at as timestamp) as ended_at
    from source
),

final as (
    select
        *,
        -- Periods that end after the evaluation cutoff were still running as of that day.
        case when ended_at >= {{ evaluation_cutoff() }} then null else ended_at end as ended_at_as_of
    from renamed
    where started_at < {{ evaluation_cutoff() }}
)

select * from final
