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
        sum(case when movement = 'new' then mrr_change_usd else 0 end) as new_mrr_usd,
        sum(case when movement = 'expansion' then mrr_change_usd else 0 end) as expansion_mrr_usd,
        sum(case when movement = 'contraction' then mrr_change_usd else 0 end) as contraction_mrr_usd,
        sum(case when movement = 'churn' then mrr_change_usd else 0 end) as churned_mrr_usd,
        sum(case when movement = 'reactivation' then mrr_change_usd else 0 end) as reactivation_mrr_usd,
        sum(mrr_change_usd) as net_new_mrr_usd,
        sum(case when movement = 'new' then 1 else 0 end) as new_customers,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_customers,
        sum(case when movement = 'reactivation' then 1 else 0 end) as reactivated_customers
    from {{ ref('int_customer_mrr_changes') }}
    group by change_date
),

final as (
    select
        days.activity_date as change_date,
        {{ month_start('days.activity_date') }} as month,
        cast(coalesce(changes.new_mrr_usd, 0) as decimal(38, 6)) as new_mrr_usd,
        cast(coalesce(changes.expansion_mrr_usd, 0) as decimal(38, 6)) as expansion_mrr_usd,
        cast(coalesce(changes.contraction_mrr_usd, 0) as decimal(38, 6)) as contraction_mrr_usd,
        cast(coalesce(changes.churned_mrr_usd, 0) as decimal(38, 6)) as churned_mrr_usd,
        cast(coalesce(changes.reactivation_mrr_usd, 0) as decimal(38, 6)) as reactivation_mrr_usd,
        cast(coalesce(changes.net_new_mrr_usd, 0) as decimal(38, 6)) as net_new_mrr_usd,
        cast(coalesce(changes.new_customers, 0) as bigint) as new_customers,
        cast(coalesce(changes.churned_customers, 0) as bigint) as churned_customers,
        cast(coalesce(changes.reactivated_customers, 0) as bigint) as reactivated_customers
    from days
    left join changes on changes.change_date = days.activity_date
)

select * from final
