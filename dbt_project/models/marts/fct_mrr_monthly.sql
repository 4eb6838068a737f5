with months as (
    select * from {{ ref('int_month_spine') }}
),

customer_months as (
    select * from {{ ref('fct_customer_mrr_monthly') }}
),

totals as (
    select
        month,
        sum(mrr_usd) as mrr_usd,
        sum(case when movement = 'new' then mrr_change_usd else 0 end) as new_mrr_usd,
        sum(case when movement = 'expansion' then mrr_change_usd else 0 end) as expansion_mrr_usd,
        sum(case when movement = 'contraction' then mrr_change_usd else 0 end) as contraction_mrr_usd,
        sum(case when movement = 'churn' then mrr_change_usd else 0 end) as churned_mrr_usd,
        sum(case when movement = 'reactivation' then mrr_change_usd else 0 end) as reactivation_mrr_usd,
        sum(mrr_change_usd) as net_new_mrr_usd,
        sum(case when mrr_usd > 0 then 1 else 0 end) as paying_customers,
        sum(case when movement = 'new' then 1 else 0 end) as new_customers,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_customers,
        sum(case when movement = 'reactivation' then 1 else 0 end) as reactivated_customers
    from customer_months
    group by month
),

final as (
    select
        months.month,
        months.is_complete,
        cast(coalesce(totals.mrr_usd, 0) as decimal(38, 6)) as mrr_usd,
        cast(coalesce(totals.mrr_usd, 0) * 12 as decimal(38, 6)) as arr_usd,
        -- Movements are signed: contraction and churn are negative, so they sum to the change in MRR.
        cast(coalesce(totals.new_mrr_usd, 0) as decimal(38, 6)) as new_mrr_usd,
        cast(coalesce(totals.expansion_mrr_usd, 0) as decimal(38, 6)) as expansion_mrr_usd,
        cast(coalesce(totals.contraction_mrr_usd, 0) as decimal(38, 6)) as contraction_mrr_usd,
        cast(coalesce(totals.churned_mrr_usd, 0) as decimal(38, 6)) as churned_mrr_usd,
        cast(coalesce(totals.reactivation_mrr_usd, 0) as decimal(38, 6)) as reactivation_mrr_usd,
        cast(coalesce(totals.net_new_mrr_usd, 0) as decimal(38, 6)) as net_new_mrr_usd,
        cast(coalesce(totals.paying_customers, 0) as bigint) as paying_customers,
        cast(coalesce(totals.new_customers, 0) as bigint) as new_customers,
        cast(coalesce(totals.churned_customers, 0) as bigint) as churned_customers,
        cast(coalesce(totals.reactivated_customers, 0) as bigint) as reactivated_customers,
        cast(totals.mrr_usd / nullif(totals.paying_customers, 0) as decimal(38, 6)) as arpa_usd
    from months
    left join totals on totals.month = months.month
)

select * from final
