with source as (
    select * from {{ source('raw', 'marketing_spend') }}
),

renamed as (
    select
        -- A blank channel is no channel: 'unknown', as for signups (Prometheus reads channel="" as no label).
        case when trim(cast(channel as varchar)) = '' then 'unknown' else cast(channel as varchar) end as channel,
        upper(cast(currency as varchar)) as currency,
        cast(amount as decimal(38, 6)) as amount,  -- 38 digits, as for subscription amounts
        cast(spend_date as date) as spend_date
    from source
),

final as (
    select
        *,
        {{ month_start('spend_date') }} as spend_month
    from renamed
    where spend_date <= {{ as_of_date() }}
)

select * from final
