{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    pre_hook="{{ delete_processed_days('activity_date', as_of_date()) }}",
) }}

with events as (
    select * from {{ ref('stg_events') }}
    -- The model's own upper bound too: the view may have been built for another evaluation date.
    where occurred_at < {{ evaluation_cutoff() }}
    {%- if is_incremental() %}
    and occurred_at >= {{ processing_start() }}
    {%- endif %}
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
