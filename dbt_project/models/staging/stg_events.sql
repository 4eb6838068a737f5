{{ config(tags=['daily']) }}

with source as (
    select * from {{ source('raw', 'events') }}
),

renamed as (
    select
        cast(event_id as varchar) as event_id,
        cast(user_id as varchar) as user_id,
        cast(event_name as varchar) as event_name,
        cast(occurred_at as timestamp) as occurred_at
    from source
),

final as (
    select
        *,
        -- Days are UTC calendar days: the raw contract stores UTC timestamps.
        cast(occurred_at as date) as activity_date
    from renamed
    where occurred_at < {{ evaluation_cutoff() }}
)

select * from final
