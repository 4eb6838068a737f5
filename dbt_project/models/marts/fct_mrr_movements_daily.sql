{#- The MRR movements counted at each change (event level), one row per UTC day from the first subscription to
    as_of: a day without a change has zeros. Beside the month-end bridge (fct_mrr_monthly), which nets each
    customer's month: both agree on each month's net new MRR (tested), and differ in how they name it
    (docs/metrics.md, "Two views of the movements"). A table rebuilt by every run, like fct_mrr_monthly. -#}

with bounds as (
    {{ series_bounds(ref('int_subscription_periods_usd'), 'cast(min(started_at) as date)') }}
),

days as (
    {{ daily_mart_spine() }}
),

changes as (
    select
        change_date,
        {{ mrr_movement_sums('amounts') }},
        {{ mrr_movement_sums('counts') }}
    from {{ ref('int_customer_mrr_changes') }}
    group by change_date
),

final as (
    select
        days.activity_date as change_date,
        {{ month_start('days.activity_date') }} as month,
        {{ mrr_movement_columns('changes', 'amounts') }},
        {{ mrr_movement_columns('changes', 'counts') }}
    from days
    left join changes on changes.change_date = days.activity_date
)

select * from final
