with source as (
    select * from {{ source('raw', 'users') }}
),

renamed as (
    select
        cast(user_id as varchar) as user_id,
        cast(country as varchar) as country,
        {{ acquisition_channel('acquisition_channel') }} as acquisition_channel,
        cast(created_at as timestamp) as created_at
    from source
),

final as (
    select
        *,
        {{ month_start('created_at') }} as signup_month
    from renamed
    where created_at < {{ evaluation_cutoff() }}
)

select * from final
