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
    -- Only the processed days: a filter on the raw timestamp, so the warehouse prunes the scan.
    and occurred_at >= {{ processing_start() }}
    {%- endif %}
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
