with events as (
    select * from {{ ref('stg_events') }}
),

final as (
    select
        user_id,
        activity_date,
        count(*) as events
    from events
    group by user_id, activity_date
)

select * from final
