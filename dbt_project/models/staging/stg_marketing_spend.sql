with source as (
    select * from {{ source('raw', 'marketing_spend') }}
),

renamed as (
    select
        cast(channel as varchar) as channel,
        upper(cast(currency as varchar)) as currency,
        cast(amount as decimal(18, 2)) as amount,
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
