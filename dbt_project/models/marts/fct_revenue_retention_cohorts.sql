with customer_months as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

first_paid as (
    select user_id, min(month) as cohort_month
    from customer_months
    where mrr_usd > 0
    group by user_id
),

cohort_months as (
    select
        first_paid.cohort_month,
        customer_months.month,
        {{ months_between('first_paid.cohort_month', 'customer_months.month') }} as months_since_first_payment,
        customer_months.mrr_usd
    from customer_months
    inner join first_paid on first_paid.user_id = customer_months.user_id
    where customer_months.month >= first_paid.cohort_month
),

per_month as (
    select
        cohort_month,
        months_since_first_payment,
        month,
        cast(sum(case when mrr_usd > 0 then 1 else 0 end) as bigint) as retained_customers,
        sum(mrr_usd) as mrr_usd
    from cohort_months
    group by cohort_month, months_since_first_payment, month
),

months as (
    select month, is_complete from {{ ref('int_month_spine') }}
),

cohort_start as (
    select cohort_month, retained_customers as cohort_customers, mrr_usd as starting_mrr_usd
    from per_month
    where months_since_first_payment = 0
),

final as (
    select
        per_month.cohort_month,
        per_month.months_since_first_payment,
        -- False while the cohort's month N is the running month: MRR as of the cutoff, not the month's end.
        months.is_complete,
        cohort_start.cohort_customers,
        per_month.retained_customers,
        cast(cohort_start.starting_mrr_usd as decimal(38, 6)) as starting_mrr_usd,
        cast(per_month.mrr_usd as decimal(38, 6)) as mrr_usd,
        cast(per_month.retained_customers as double) / cohort_start.cohort_customers as logo_retention_rate,
        -- Net revenue retention of the cohort: expansion and reactivation can take it above 1.
        cast(per_month.mrr_usd as double) / nullif(cohort_start.starting_mrr_usd, 0) as revenue_retention_rate
    from per_month
    inner join cohort_start on cohort_start.cohort_month = per_month.cohort_month
    inner join months on months.month = per_month.month
)

select * from final
