with mrr as (
    select * from {{ ref('fct_mrr_monthly') }}
),

blended_cac as (
    select month, cac_usd from {{ ref('fct_cac_monthly') }} where channel = 'all'
),

-- Trailing twelve months: the customers paying at the end of month m - 12 and what they pay at the end of m
-- (0 if they left; what they pay again if they left and came back).
customer_months as (
    select user_id, month, mrr_usd from {{ ref('int_customer_mrr_monthly') }}
),

year_base as (
    select user_id, cast({{ dbt.dateadd('month', 12, 'month') }} as date) as month, mrr_usd as base_mrr_usd
    from customer_months
    where mrr_usd > 0
),

retention_12m as (
    select
        year_base.month,
        cast(sum(customer_months.mrr_usd) as double) / sum(year_base.base_mrr_usd) as net_revenue_retention_12m,
        -- Each customer counts at most what they paid a year before: expansion does not make up for churn.
        cast(sum(least(customer_months.mrr_usd, year_base.base_mrr_usd)) as double) / sum(year_base.base_mrr_usd)
            as gross_revenue_retention_12m
    from year_base
    inner join customer_months
        on customer_months.user_id = year_base.user_id and customer_months.month = year_base.month
    group by year_base.month
),

with_start as (
    select
        mrr.*,
        -- Rates use the previous month's end as the start of this month (the standard denominator).
        lag(mrr.mrr_usd) over (order by mrr.month) as starting_mrr_usd,
        lag(mrr.paying_customers) over (order by mrr.month) as starting_customers
    from mrr
),

rates as (
    select
        month,
        is_complete,
        arpa_usd,
        starting_mrr_usd,
        cast(churned_customers as double) / nullif(starting_customers, 0) as logo_churn_rate,
        -- 0.0 - x, not -x: a month without churn is 0.0, never -0.0.
        (0.0 - cast(churned_mrr_usd + contraction_mrr_usd as double)) / nullif(starting_mrr_usd, 0) as revenue_churn_rate,
        cast(starting_mrr_usd + expansion_mrr_usd + contraction_mrr_usd + churned_mrr_usd as double)
            / nullif(starting_mrr_usd, 0) as net_revenue_retention,
        cast(starting_mrr_usd + contraction_mrr_usd + churned_mrr_usd as double)
            / nullif(starting_mrr_usd, 0) as gross_revenue_retention,
        cast(new_mrr_usd + expansion_mrr_usd + reactivation_mrr_usd as double)
            / nullif(-(churned_mrr_usd + contraction_mrr_usd), 0) as quick_ratio
    from with_start
),

lifetime as (
    select
        *,
        -- Expected lifetime 1 / churn, capped so a month without churn gives a finite LTV.
        case
            when logo_churn_rate is null then null
            when logo_churn_rate * {{ var('ltv_max_lifetime_months') }} <= 1 then {{ var('ltv_max_lifetime_months') }}
            else 1.0 / logo_churn_rate
        end as expected_lifetime_months
    from rates
),

final as (
    select
        lifetime.month,
        -- False for the running month: its rates are month-to-date, not a month's result.
        lifetime.is_complete,
        lifetime.arpa_usd,
        lifetime.logo_churn_rate,
        lifetime.revenue_churn_rate,
        lifetime.expected_lifetime_months,
        cast(lifetime.arpa_usd * {{ var('ltv_gross_margin') }} * lifetime.expected_lifetime_months as decimal(38, 6)) as ltv_usd,
        blended_cac.cac_usd,
        cast(lifetime.arpa_usd * {{ var('ltv_gross_margin') }} * lifetime.expected_lifetime_months as double)
            / nullif(blended_cac.cac_usd, 0) as ltv_to_cac,
        cast(blended_cac.cac_usd as double) / nullif(lifetime.arpa_usd * {{ var('ltv_gross_margin') }}, 0) as cac_payback_months,
        lifetime.quick_ratio,
        lifetime.net_revenue_retention,
        lifetime.gross_revenue_retention,
        -- Null until the month twelve months before is in the history (or nobody paid then).
        retention_12m.net_revenue_retention_12m,
        retention_12m.gross_revenue_retention_12m
    from lifetime
    left join blended_cac on blended_cac.month = lifetime.month
    left join retention_12m on retention_12m.month = lifetime.month
)

select * from final
