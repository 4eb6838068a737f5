with periods as (
    select * from {{ ref('int_subscription_periods_usd') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

customers as (
    select
        user_id,
        {{ month_start('min(started_at)') }} as first_month
    from periods
    group by user_id
),

customer_months as (
    select
        customers.user_id,
        months.month,
        months.snapshot_at
    from customers
    inner join months on months.month >= customers.first_month
),

final as (
    select
        customer_months.user_id,
        customer_months.month,
        -- A period counts when it is running at the snapshot instant: started before it, ended at or after it.
        cast(coalesce(sum(periods.mrr_usd), 0) as decimal(38, 6)) as mrr_usd,
        count(periods.subscription_id) as running_periods
    from customer_months
    left join periods
        on periods.user_id = customer_months.user_id
        and periods.started_at < customer_months.snapshot_at
        and (periods.ended_at is null or periods.ended_at >= customer_months.snapshot_at)
    group by customer_months.user_id, customer_months.month
)

select * from final
