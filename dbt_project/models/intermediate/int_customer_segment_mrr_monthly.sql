{#- Each paying customer's MRR at each month-end snapshot, split by segment of each dimension: plan, billing
    interval and currency from the periods running at the snapshot (a customer paying for two plans is in both,
    with each plan's MRR); country, acquisition channel and signup cohort (quarter) from the user, with all of
    the customer's MRR. Segment values come from the data (blank or missing: 'unknown'). Only rows with MRR. -#}

with periods as (
    select * from {{ ref('int_subscription_periods_usd') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

-- Same rule as int_customer_mrr_monthly: running at the snapshot instant.
running as (
    select
        periods.user_id,
        months.month,
        coalesce(nullif(trim(periods.plan), ''), 'unknown') as plan,
        coalesce(nullif(trim(periods.billing_interval), ''), 'unknown') as billing_interval,
        coalesce(nullif(trim(periods.currency), ''), 'unknown') as currency,
        periods.mrr_usd
    from periods
    inner join months
        on periods.started_at < months.snapshot_at
        and (periods.ended_at is null or periods.ended_at >= months.snapshot_at)
),

customers as (
    select
        customer_months.user_id,
        customer_months.month,
        customer_months.mrr_usd,
        coalesce(users.country, 'unknown') as country,
        coalesce(users.acquisition_channel, 'unknown') as acquisition_channel,
        coalesce(users.signup_cohort, 'unknown') as signup_cohort
    from {{ ref('int_customer_mrr_monthly') }} as customer_months
    left join {{ ref('int_user_segments') }} as users on users.user_id = customer_months.user_id
    where customer_months.mrr_usd > 0
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
    union all
    select user_id, month, 'country', country, mrr_usd from customers
    union all
    select user_id, month, 'acquisition_channel', acquisition_channel, mrr_usd from customers
    union all
    select user_id, month, 'signup_cohort', signup_cohort, mrr_usd from customers
)

select user_id, month, dimension, segment, cast(mrr_usd as decimal(38, 6)) as mrr_usd
from final
where mrr_usd > 0
