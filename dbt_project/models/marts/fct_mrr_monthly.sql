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
        {{ mrr_movement_sums('amounts') }},
        sum(case when mrr_usd > 0 then 1 else 0 end) as paying_customers,
        {{ mrr_movement_sums('counts') }}
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
        {{ mrr_movement_columns('totals', 'amounts') }},
        cast(coalesce(totals.paying_customers, 0) as bigint) as paying_customers,
        {{ mrr_movement_columns('totals', 'counts') }},
        cast(totals.mrr_usd / nullif(totals.paying_customers, 0) as decimal(38, 6)) as arpa_usd
    from months
    left join totals on totals.month = months.month
)

select * from final
