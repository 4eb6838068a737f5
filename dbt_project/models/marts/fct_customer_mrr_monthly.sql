with customer_months as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

with_history as (
    select
        user_id,
        month,
        mrr_usd,
        cast(coalesce(lag(mrr_usd) over (partition by user_id order by month), 0) as decimal(38, 6)) as previous_mrr_usd,
        -- Did this customer pay at the end of any earlier month? Tells reactivation from new.
        {{ mrr_paid_before('mrr_usd', 'month') }} as paid_before
    from customer_months
),

classified as (
    select
        user_id,
        month,
        mrr_usd,
        previous_mrr_usd,
        cast(mrr_usd - previous_mrr_usd as decimal(38, 6)) as mrr_change_usd,
        {{ mrr_movement('previous_mrr_usd', 'mrr_usd', 'paid_before') }} as movement
    from with_history
),

final as (
    select
        classified.*,
        -- False for the running month: MRR as of the evaluation cutoff, not the month's end.
        months.is_complete
    from classified
    inner join months on months.month = classified.month
    -- Keep paying months and the month a customer churns; drop the zero months in between.
    where classified.mrr_usd > 0 or classified.previous_mrr_usd > 0
)

select * from final
