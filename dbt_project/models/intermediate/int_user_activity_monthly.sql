{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    pre_hook="{{ delete_processed_months('activity_month') }}",
) }}

{#- Months, not days: retention cohorts then read one row per user and active month instead of every
    active day of all history. A run re-aggregates the months its processed days fall in, from all of
    their days in int_user_activity_daily, so a month stays the sum of its days after any backfill. -#}
with activity as (
    select user_id, activity_date
    from {{ ref('int_user_activity_daily') }}
    {%- if is_incremental() %}
    where activity_date >= {{ processing_first_month() }}
      and activity_date < {{ dbt.dateadd('month', 1, month_start(as_of_date())) }}
    {%- endif %}
),

final as (
    select
        user_id,
        {{ month_start('activity_date') }} as activity_month,
        count(*) as active_days
    from activity
    group by user_id, {{ month_start('activity_date') }}
)

select * from final
