{#- The priced periods of Stripe subscription items, from four CTEs every Stripe adapter defines in the same
    shape (models/sources/stripe_*): subscriptions, items, prices and billed (the issued non-proration
    subscription lines). The rules are in docs/metrics.md ("MRR from Stripe"); tests/test_stripe_fivetran.py
    works each out by hand. Emits the remaining CTEs and the final select of the contract's columns. -#}
{% macro stripe_priced_periods() %}
,

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
                    select min(items.item_period_start)
                    from items
                    where items.subscription_id = subscriptions.subscription_id
                )
            )
        end as history_end
    from subscriptions
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

-- What Stripe invoiced for each item's period (licensed prices are billed in advance, so the current period's
-- invoice is issued when it starts): one line per item and period.
invoiced_periods as (
    select item_id, period_start, price_id, quantity, amount_minor
    from (
        select
            billed.*,
            row_number() over (partition by item_id, period_start order by amount_minor desc, price_id) as nth
        from billed
    ) as lines
    where nth = 1
),

-- Each item of an active or past_due subscription, with the start of its current period (one expression, read
-- by the amount's invoice lookup and the period alike).
live_items as (
    select
        items.item_id,
        items.price_id,
        items.quantity,
        items.item_period_end,
        history_ends.subscription_id,
        history_ends.customer_id,
        history_ends.cancel_at_period_end,
        history_ends.current_period_end,
        history_ends.cancel_at,
        coalesce(items.item_period_start, history_ends.history_end) as period_start
    from history_ends
    join items using (subscription_id)
    where history_ends.status in ('active', 'past_due')
),

current_periods as (
    select
        live.item_id,
        live.subscription_id,
        live.customer_id,
        live.price_id,
        null as currency,
        -- The current period's invoice when it bills the item's price and quantity (its amount before tax, as
        -- for past periods, so a tax-inclusive price's month is not restated when its period closes); else the
        -- live state (a change since the invoice); else, for a tiered price (no unit amount), the invoice.
        coalesce(
            case
                when invoiced.price_id = live.price_id and invoiced.quantity = live.quantity
                    then invoiced.amount_minor
            end,
            prices.unit_amount * live.quantity,
            invoiced.amount_minor
        ) as amount_minor,
        live.period_start,
        case
            when live.cancel_at_period_end then coalesce(live.item_period_end, live.current_period_end)
            else live.cancel_at
        end as period_end
    from live_items as live
    join prices on prices.price_id = live.price_id
    left join invoiced_periods as invoiced
        on invoiced.item_id = live.item_id and invoiced.period_start = live.period_start
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
{% endmacro %}


{#- An issued invoice: what Stripe billed (a draft may still change, a void one was never owed). Both Stripe
    adapters read lines of these only; kpiwatch sources check counts with the same statuses
    (kpiwatch/sources_check.py STRIPE_ISSUED_STATUSES). -#}
{% macro stripe_issued_invoice(status) -%}
    lower({{ status }}) in ('open', 'paid', 'uncollectible')
{%- endmacro %}
