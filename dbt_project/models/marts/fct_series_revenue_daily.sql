{{ config(materialized='table') }}
{#- MRR and paying customers as of the end of each day, with their bands (macros/series_bands.sql). A table,
    rebuilt by every run like fct_mrr_monthly, so a back-dated change to a subscription is in every day at once;
    it costs the number of subscription periods and days, never events.
    Same definition as the month-end snapshot (int_customer_mrr_monthly): a period counts at the end of
    day D when it started before D+1 00:00 UTC and had not ended by then, so on a month's last day
    these equal fct_mrr_monthly. Built from per-day changes (a period adds its MRR on the day it starts
    and removes it on the day it ends), so the cost follows the periods, not days x periods. -#}

with bounds as (
    {{ series_bounds(ref('int_subscription_periods_usd'), 'cast(min(started_at) as date)') }}
),

days as (
    {{ daily_mart_spine() }}
),

company_changes as (
    select
        change_date,
        sum(mrr_change_usd) as mrr_delta,
        sum(case when mrr_after_usd > 0 then 1 else 0 end - case when mrr_before_usd > 0 then 1 else 0 end)
            as paying_delta,
        sum(case when movement = 'new' then mrr_change_usd else 0 end) as new_mrr,
        sum(case when movement = 'churn' then -mrr_change_usd else 0 end) as churned_mrr
    from {{ ref('int_customer_mrr_changes') }}
    group by change_date
),

totals as (
    select
        days.activity_date as metric_date,
        coalesce(sum(company_changes.mrr_delta), 0) as mrr_usd,
        coalesce(sum(company_changes.paying_delta), 0) as paying_customers
    from days
    left join company_changes on company_changes.change_date <= days.activity_date
    group by days.activity_date
),

-- New and churned MRR of the month so far: 0 before the first change of a month, then growing.
month_to_date as (
    select
        days.activity_date as metric_date,
        sum(coalesce(company_changes.new_mrr, 0)) over (
            partition by {{ month_start('days.activity_date') }} order by days.activity_date
            rows between unbounded preceding and current row
        ) as new_mrr_mtd,
        sum(coalesce(company_changes.churned_mrr, 0)) over (
            partition by {{ month_start('days.activity_date') }} order by days.activity_date
            rows between unbounded preceding and current row
        ) as churned_mrr_mtd
    from days
    left join company_changes on company_changes.change_date = days.activity_date
),

revenue_series as (
    select metric_date, 'mrr' as metric, 'all' as segment, cast(mrr_usd as double) as value from totals
    union all
    select metric_date, 'paying_customers', 'all', cast(paying_customers as double) from totals
    union all
    select metric_date, 'new_mrr_mtd', 'all', cast(new_mrr_mtd as double) from month_to_date
    union all
    select metric_date, 'churned_mrr_mtd', 'all', cast(churned_mrr_mtd as double) from month_to_date
),

new_series as (
    select *, cast(null as double) as sample_size from revenue_series
),

{{ series_with_bands([], ['new_mrr_mtd', 'churned_mrr_mtd']) }}
