{#- raw.subscriptions from Stripe as Fivetran syncs it: one row per subscription item and priced period.
    The rules, and where Stripe Billing, ChartMogul and Baremetrics differ, are in docs/metrics.md
    ("Stripe"); every rule is a hand-worked case in tests/test_stripe_fivetran.py.

    Past periods come from what Stripe keeps: the non-proration subscription lines of issued invoices (draft
    and void ones were never billed). The current period comes from the subscription, its items and their
    prices, for active and past_due subscriptions only: a trial, an unpaid, incomplete or paused subscription
    has no MRR in its current period. A subscription cancelled at period end runs to that end; a cancelled one
    ends when Stripe ended it. Metered, one-time, daily and $0 prices are not recurring revenue. -#}
{{ config(
    enabled=env_var('KPIWATCH_SOURCE_SUBSCRIPTIONS', 'contract') == 'stripe_fivetran',
    post_hook=["{{ present_as_raw('subscriptions') }}"],
) }}

with subscriptions as (
    select
        id as subscription_id,
        customer_id,
        lower(status) as status,
        coalesce(cancel_at_period_end, false) as cancel_at_period_end,
        {{ stripe_timestamp('current_period_start') }} as current_period_start,
        {{ stripe_timestamp('current_period_end') }} as current_period_end,
        {{ stripe_timestamp('cancel_at') }} as cancel_at,
        {{ stripe_timestamp('ended_at') }} as ended_at
    from {{ source('stripe_fivetran', 'subscription_history') }}
    where coalesce(_fivetran_active, true) and livemode
),

items as (
    select
        id as item_id,
        subscription_id,
        plan_id as price_id,
        coalesce(quantity, 1) as quantity,
        {%- set items = source('stripe_fivetran', 'subscription_item') %}
        {{ column_or_null(items, 'current_period_start', 'item_period_start', stripe_timestamp_type()) }},
        {{ column_or_null(items, 'current_period_end', 'item_period_end', stripe_timestamp_type()) }}
    from {{ source('stripe_fivetran', 'subscription_item') }}
),

prices as (
    select
        prices.id as price_id,
        prices.unit_amount,
        lower(prices.currency) as currency,
        prices.type,
        lower(prices.recurring_interval) as interval_unit,
        coalesce(prices.recurring_interval_count, 1) as interval_count,
        coalesce(lower(prices.recurring_usage_type), 'licensed') as usage_type,
        coalesce(products.name, prices.product_id, prices.id) as plan
    from {{ source('stripe_fivetran', 'price') }} as prices
    left join {{ source('stripe_fivetran', 'product') }} as products on products.id = prices.product_id
),

-- Where each subscription's billed history stops: at its current period (replaced by the subscription's own
-- state below; new connections keep the period on the items, Stripe's API since 2025-03-31), or where a
-- cancelled subscription ended.
history_ends as (
    select
        subscriptions.*,
        case
            when subscriptions.status = 'canceled' then subscriptions.ended_at
            else coalesce(
                subscriptions.current_period_start,
                (
                    select min({{ stripe_timestamp('items.item_period_start') }})
                    from items
                    where items.subscription_id = subscriptions.subscription_id
                )
            )
        end as history_end
    from subscriptions
),

billed as (
    select
        lines.subscription_item_id as item_id,
        lines.subscription_id,
        coalesce(lines.price_id, lines.plan_id) as price_id,
        lower(lines.currency) as currency,
        -- Tax is not revenue: the unit amount before tax when Stripe gives it (tax-inclusive prices).
        coalesce(
            cast(lines.unit_amount_excluding_tax as decimal(38, 6)) * lines.quantity, lines.amount
        ) as amount_minor,
        {{ stripe_timestamp('lines.period_start') }} as period_start,
        {{ stripe_timestamp('lines.period_end') }} as period_end
    from {{ source('stripe_fivetran', 'invoice_line_item') }} as lines
    join {{ source('stripe_fivetran', 'invoice') }} as invoices on invoices.id = lines.invoice_id
    where lines.type = 'subscription'
        and not coalesce(lines.proration, false)
        and lines.livemode
        and lines.subscription_item_id is not null
        and lines.id not like 'sub%'  -- temporary ids, replaced by permanent ones (sli_) on the next sync
        and lower(invoices.status) in ('open', 'paid', 'uncollectible')
),

past_periods as (
    select
        billed.item_id,
        history_ends.subscription_id,
        history_ends.customer_id,
        billed.price_id,
        billed.currency,
        billed.amount_minor,
        billed.period_start,
        case
            when history_ends.status = 'canceled' and billed.period_end > history_ends.history_end
                then history_ends.history_end
            else billed.period_end
        end as period_end
    from billed
    join history_ends using (subscription_id)
    where billed.period_start < history_ends.history_end or history_ends.history_end is null
),

current_periods as (
    select
        items.item_id,
        history_ends.subscription_id,
        history_ends.customer_id,
        items.price_id,
        null as currency,
        prices.unit_amount * items.quantity as amount_minor,
        coalesce({{ stripe_timestamp('items.item_period_start') }}, history_ends.history_end) as period_start,
        case
            when history_ends.cancel_at_period_end
                then coalesce({{ stripe_timestamp('items.item_period_end') }}, history_ends.current_period_end)
            else history_ends.cancel_at
        end as period_end
    from history_ends
    join items using (subscription_id)
    join prices on prices.price_id = items.price_id
    where history_ends.status in ('active', 'past_due')
),

periods as (
    select * from past_periods
    union all
    select * from current_periods
),

priced as (
    select
        periods.item_id,
        periods.customer_id,
        prices.plan,
        prices.interval_unit,
        prices.interval_count,
        upper(coalesce(periods.currency, prices.currency)) as currency,
        periods.amount_minor,
        periods.period_start,
        -- Periods of one item never overlap: a period ends where the next one starts (a plan change that
        -- reset the billing cycle starts the new period before the old one's paid end).
        least(
            coalesce(periods.period_end, timestamp '9999-12-31'),
            coalesce(
                lead(periods.period_start) over (partition by periods.item_id order by periods.period_start),
                timestamp '9999-12-31'
            )
        ) as period_end
    from periods
    join prices on prices.price_id = periods.price_id
    where prices.type = 'recurring'
        and prices.usage_type = 'licensed'
        and prices.interval_unit in ('week', 'month', 'year')
        and periods.amount_minor > 0
)

select
    cast(item_id as varchar) as subscription_id,
    cast(customer_id as varchar) as user_id,
    cast(plan as varchar) as plan,
    cast(
        case when interval_count = 1 then interval_unit else cast(interval_count as varchar) || ' ' || interval_unit end
        as varchar
    ) as billing_interval,
    cast({{ stripe_major_units('amount_minor', 'currency') }} as decimal(38, 6)) as amount,
    cast(currency as varchar) as currency,
    cast(period_start as timestamp) as started_at,
    cast(case when period_end = timestamp '9999-12-31' then null else period_end end as timestamp) as ended_at
from priced
where period_end > period_start
