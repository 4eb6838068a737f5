{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    pre_hook="{{ delete_processed_days('activity_date', as_of_date()) }}",
) }}

with events as (
    {{ events_to_process() }}
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
