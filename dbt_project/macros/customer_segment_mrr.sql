{#- customer_segment_mrr(months): each paying customer's MRR at each month-end snapshot by segment of the
    dimensions a subscription period carries: plan, billing interval and currency, from the periods running at the snapshot (a customer paying
    for two plans is in both, with each plan's MRR). Blank values are 'unknown'. Only rows with MRR. The
    dimensions of the user (country, channel, signup cohort) need no such split: a customer's whole MRR is in
    one segment of each (fct_mrr_by_segment_monthly reads them from fct_customer_mrr_monthly). `months`: the
    months of int_month_spine to compute, so a run that rebuilds one month joins its periods with that month only. -#}
{% macro customer_segment_mrr(months) -%}
with running as (
    -- Same rule as int_customer_mrr_monthly: running at the snapshot instant.
    select
        periods.user_id,
        months.month,
        coalesce(nullif(trim(periods.plan), ''), 'unknown') as plan,
        coalesce(nullif(trim(periods.billing_interval), ''), 'unknown') as billing_interval,
        coalesce(nullif(trim(periods.currency), ''), 'unknown') as currency,
        periods.mrr_usd
    from {{ ref('int_subscription_periods_usd') }} as periods
    inner join {{ months }} as months
        on periods.started_at < months.snapshot_at
        and (periods.ended_at is null or periods.ended_at >= months.snapshot_at)
),

final as (
    select user_id, month, 'plan' as dimension, plan as segment, sum(mrr_usd) as mrr_usd
    from running group by user_id, month, plan
    union all
    select user_id, month, 'billing_interval', billing_interval, sum(mrr_usd)
    from running group by user_id, month, billing_interval
    union all
    select user_id, month, 'currency', currency, sum(mrr_usd)
    from running group by user_id, month, currency
)

select user_id, month, dimension, segment, cast(mrr_usd as decimal(38, 6)) as mrr_usd
from final
where mrr_usd > 0
{%- endmacro %}
