{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    pre_hook="{{ delete_processed_days('activity_date', as_of_date()) }}",
) }}

with events as (
    {{ events_to_process() }}
),

feature_map as (
    select * from {{ ref('feature_map') }}
),

final as (
    select
        events.user_id,
        feature_map.feature,
        events.activity_date
    from events
    inner join feature_map on feature_map.event_name = events.event_name
    group by events.user_id, feature_map.feature, events.activity_date
)

select * from final
