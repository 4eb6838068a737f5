{#- raw.subscriptions from Stripe as Fivetran syncs it: one row per subscription item and priced period.
    The rules, and where Stripe Billing, ChartMogul and Baremetrics differ, are in docs/metrics.md
    ("Stripe"); every rule is a hand-worked case in tests/test_stripe_fivetran.py.

    Past periods come from what Stripe keeps: the non-proration subscription lines of issued invoices (draft
    and void ones were never billed). The current period comes from its invoice line when that bills the item's
    current price and quantity (before tax, like the past), else from the subscription, its items and their
    prices, for active and past_due subscriptions only: a trial, an unpaid, incomplete or paused subscription
    has no MRR in its current period. A subscription cancelled at period end runs to that end; a cancelled one
    ends when Stripe ended it. Metered, one-time, daily and $0 prices are not recurring revenue. -#}
{{ config(
    enabled=env_var('KPIWATCH_SOURCE_SUBSCRIPTIONS', 'contract') == 'stripe_fivetran',
    post_hook=["{{ present_as_raw('subscriptions') }}"],
) }}

{#- A connection created before Fivetran's history mode (February 2022) syncs `subscription` instead:
    the same columns, one row per subscription. Offline compilation (no introspection) assumes history mode. -#}
{%- set history = source('stripe_fivetran', 'subscription_history') %}
{%- set without_history = source('stripe_fivetran', 'subscription') %}
{%- set has_history = not (execute and flags.INTROSPECT)
    or adapter.get_relation(history.database, history.schema, history.identifier) is not none %}

with subscriptions as (
    select
        id as subscription_id,
        customer_id,
        lower(status) as status,
        coalesce(cancel_at_period_end, false) as cancel_at_period_end,
        {{ utc_timestamp('current_period_start') }} as current_period_start,
        {{ utc_timestamp('current_period_end') }} as current_period_end,
        {{ utc_timestamp('cancel_at') }} as cancel_at,
        {{ utc_timestamp('ended_at') }} as ended_at
    {%- if has_history %}
    from {{ history }}
    where coalesce(_fivetran_active, true) and livemode
    {%- else %}
    from {{ without_history }}
    where livemode
    {%- endif %}
),

items_synced as (
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

items as (
    select
        item_id,
        subscription_id,
        price_id,
        quantity,
        {{ utc_timestamp('item_period_start') }} as item_period_start,
        {{ utc_timestamp('item_period_end') }} as item_period_end
    from items_synced
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
        coalesce(lines.quantity, 1) as quantity,
        {{ utc_timestamp('lines.period_start') }} as period_start,
        {{ utc_timestamp('lines.period_end') }} as period_end
    from {{ source('stripe_fivetran', 'invoice_line_item') }} as lines
    join {{ source('stripe_fivetran', 'invoice') }} as invoices on invoices.id = lines.invoice_id
    where lines.type = 'subscription'
        and not coalesce(lines.proration, false)
        and lines.livemode
        and lines.subscription_item_id is not null
        and lines.id not like 'sub%'  -- temporary ids, replaced by permanent ones (sli_) on the next sync
        and {{ stripe_issued_invoice('invoices.status') }}
)

{{ stripe_priced_periods() }}
