{#- raw.subscriptions from Stripe as Airbyte's source-stripe syncs it (Destinations V2): the same rules as the
    Fivetran adapter (macros/stripe_periods.sql), over Airbyte's streams. Each stream's current version of a
    record (append-mode syncs keep every version), deleted records (`is_deleted`) left out, nested objects
    (an item's and a line's price, a line's period, a price's recurrence) read as JSON, epoch seconds as UTC.
    Hand-worked in tests/test_stripe_airbyte.py: the same company as Fivetran's, the same periods. -#}
{{ config(
    enabled=env_var('KPIWATCH_SOURCE_SUBSCRIPTIONS', 'contract') == 'stripe_airbyte',
    post_hook=["{{ present_as_raw('subscriptions') }}"],
) }}

with subscriptions_synced as (
    {{ airbyte_current(source('stripe_airbyte', 'subscriptions')) }}
),

subscriptions as (
    select
        id as subscription_id,
        customer as customer_id,
        lower(status) as status,
        coalesce(cancel_at_period_end, false) as cancel_at_period_end,
        {{ epoch_timestamp('current_period_start') }} as current_period_start,
        {{ epoch_timestamp('current_period_end') }} as current_period_end,
        {{ epoch_timestamp('cancel_at') }} as cancel_at,
        {{ epoch_timestamp('ended_at') }} as ended_at
    from subscriptions_synced
    where not coalesce(is_deleted, false) and livemode
),

items_synced as (
    {{ airbyte_current(source('stripe_airbyte', 'subscription_items'), updated=false) }}
),

items as (
    select
        id as item_id,
        subscription as subscription_id,
        {{ json_text('price', 'id') }} as price_id,
        coalesce(quantity, 1) as quantity,
        {{ epoch_timestamp('current_period_start') }} as item_period_start,
        {{ epoch_timestamp('current_period_end') }} as item_period_end
    from items_synced
),

prices_synced as (
    {{ airbyte_current(source('stripe_airbyte', 'prices')) }}
),

products_synced as (
    {{ airbyte_current(source('stripe_airbyte', 'products')) }}
),

prices as (
    select
        prices.id as price_id,
        prices.unit_amount,
        lower(prices.currency) as currency,
        prices.type,
        lower({{ json_text('prices.recurring', 'interval') }}) as interval_unit,
        coalesce(cast({{ json_text('prices.recurring', 'interval_count') }} as integer), 1) as interval_count,
        coalesce(lower({{ json_text('prices.recurring', 'usage_type') }}), 'licensed') as usage_type,
        coalesce(products.name, prices.product, prices.id) as plan
    from prices_synced as prices
    left join products_synced as products on products.id = prices.product
),

invoices as (
    {{ airbyte_current(source('stripe_airbyte', 'invoices')) }}
),

lines as (
    {{ airbyte_current(source('stripe_airbyte', 'invoice_line_items'), updated=false) }}
),

billed as (
    select
        lines.subscription_item as item_id,
        lines.subscription as subscription_id,
        {{ json_text('lines.price', 'id') }} as price_id,
        lower(lines.currency) as currency,
        -- Tax is not revenue: the unit amount before tax when Stripe gives it (tax-inclusive prices).
        coalesce(
            cast(lines.unit_amount_excluding_tax as decimal(38, 6)) * lines.quantity, lines.amount
        ) as amount_minor,
        coalesce(lines.quantity, 1) as quantity,
        {{ epoch_timestamp(json_text('lines.period', 'start')) }} as period_start,
        {{ epoch_timestamp(json_text('lines.period', 'end')) }} as period_end
    from lines
    join invoices on invoices.id = lines.invoice_id
    where lines.type = 'subscription'
        and not coalesce(lines.proration, false)
        and lines.livemode
        and lines.subscription_item is not null
        and lines.id not like 'sub%'  -- temporary ids, replaced by permanent ones (sli_) on the next sync
        and {{ stripe_issued_invoice('invoices.status') }}
        and not coalesce(invoices.is_deleted, false)
)

{{ stripe_priced_periods() }}
