{{ config(materialized='table') }}
{#- MRR and paying customers as of the end of each day, with their bands (macros/series_bands.sql). A table,
    rebuilt by every run like fct_mrr_monthly, so a back-dated change to a subscription is in every day at once;
    it costs the number of subscription periods and days, never events.
    Same definition as the month-end snapshot (int_customer_mrr_monthly): a period counts at the end of
    day D when it started before D+1 00:00 UTC and had not ended by then, so on a month's last day
    these equal fct_mrr_monthly. Built from per-day changes (a period adds its MRR on the day it starts
    and removes it on the day it ends), so the cost follows the periods, not days x periods. -#}

with periods as (
    select user_id, mrr_usd, started_at, ended_at from {{ ref('int_subscription_periods_usd') }}
),

bounds as (
    {{ series_bounds(ref('int_subscription_periods_usd'), 'cast(min(started_at) as date)') }}
),

days as (
    {{ daily_mart_spine() }}
),

customer_changes as (
    select user_id, change_date, sum(delta) as delta
    from (
        select user_id, cast(started_at as date) as change_date, mrr_usd as delta from periods
        union all
        select user_id, cast(ended_at as date) as change_date, -mrr_usd as delta from periods where ended_at is not null
    ) as changes
    group by user_id, change_date
),

customer_running as (
    select
        user_id,
        change_date,
        delta,
        case
            when sum(delta) over (partition by user_id order by change_date rows between unbounded preceding and current row) > 0
            then 1 else 0
        end as paying
    from customer_changes
),

company_changes as (
    select
        change_date,
        sum(delta) as mrr_delta,
        sum(paying - coalesce(previous_paying, 0)) as paying_delta
    from (
        select *, lag(paying) over (partition by user_id order by change_date) as previous_paying
        from customer_running
    ) as flagged
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

new_series as (
    select metric_date, 'mrr' as metric, 'all' as segment, cast(mrr_usd as double) as value from totals
    union all
    select metric_date, 'paying_customers', 'all', cast(paying_customers as double) from totals
),

{{ series_with_bands([]) }}
