with months as (
    select * from {{ ref('int_month_spine') }}
),

spend as (
    select * from {{ ref('stg_marketing_spend') }}
),

rates as (
    select * from {{ ref('fx_rates') }}
),

users as (
    select * from {{ ref('stg_users') }}
),

new_customers as (
    select
        customer_months.month,
        users.acquisition_channel as channel,
        count(*) as new_customers
    from {{ ref('fct_customer_mrr_monthly') }} as customer_months
    inner join users on users.user_id = customer_months.user_id
    where customer_months.movement = 'new'
    group by customer_months.month, users.acquisition_channel
),

spend_usd as (
    select
        spend.spend_month as month,
        spend.channel,
        -- Unknown currencies give null and fail the relationships test on stg_marketing_spend.
        sum(spend.amount * rates.usd_per_unit) as spend_usd
    from spend
    left join rates on rates.currency = spend.currency
    group by spend.spend_month, spend.channel
),

channels as (
    select channel from new_customers
    union
    select channel from spend_usd
),

per_channel as (
    select
        months.month,
        channels.channel,
        cast(coalesce(spend_usd.spend_usd, 0) as decimal(38, 6)) as spend_usd,
        cast(coalesce(new_customers.new_customers, 0) as bigint) as new_customers
    from months
    cross join channels
    left join spend_usd on spend_usd.month = months.month and spend_usd.channel = channels.channel
    left join new_customers on new_customers.month = months.month and new_customers.channel = channels.channel
),

blended as (
    select
        months.month,
        'all' as channel,
        cast(coalesce(sum(per_channel.spend_usd), 0) as decimal(38, 6)) as spend_usd,
        cast(coalesce(sum(per_channel.new_customers), 0) as bigint) as new_customers
    from months
    left join per_channel on per_channel.month = months.month
    group by months.month
),

final as (
    select
        combined.month,
        -- False for the running month: spend and new customers so far, not the month's.
        months.is_complete,
        combined.channel,
        combined.spend_usd,
        combined.new_customers,
        -- Undefined (null) when a month has spend but no new customer; zero for unpaid channels.
        cast(combined.spend_usd / nullif(combined.new_customers, 0) as decimal(38, 6)) as cac_usd
    from (
        select * from per_channel
        union all
        select * from blended
    ) as combined
    inner join months on months.month = combined.month
)

select * from final
