{#- What each month of the MRR bridge by segment is built from (macros/changed_months.sql): the subscription
    periods running at its snapshot (with the attributes that make its segments), the customer bridge of the
    month, the month's snapshot instant and completeness, and every user's segments (the same on all rows: a
    user's country or channel edited rebuilds every month). Month M also reads M - 1; months after a changed
    one are rebuilt anyway. -#}
{% macro mrr_bridge_input_columns() -%}
    {{ return(['snapshot_at', 'is_complete', 'running_periods', 'periods_hash', 'customer_rows', 'customers_hash',
               'users', 'users_hash']) }}
{%- endmacro %}

{% macro mrr_bridge_inputs() -%}
with months as (
    select month, snapshot_at, is_complete from {{ ref('int_month_spine') }}
),

periods as (
    select
        months.month,
        count(*) as running_periods,
        sum(hash(periods.user_id, periods.plan, periods.billing_interval, periods.currency, periods.mrr_usd)) as periods_hash
    from {{ ref('int_subscription_periods_usd') }} as periods
    inner join months
        on periods.started_at < months.snapshot_at
        and (periods.ended_at is null or periods.ended_at >= months.snapshot_at)
    group by months.month
),

customers as (
    select
        month,
        count(*) as customer_rows,
        sum(hash(user_id, mrr_usd, mrr_change_usd, movement)) as customers_hash
    from {{ ref('fct_customer_mrr_monthly') }}
    group by month
),

users as (
    select count(*) as users, sum(hash(user_id, country, acquisition_channel, signup_cohort)) as users_hash
    from {{ ref('int_user_segments') }}
)

select
    months.month,
    months.snapshot_at,
    months.is_complete,
    coalesce(periods.running_periods, 0) as running_periods,
    coalesce(periods.periods_hash, 0) as periods_hash,
    coalesce(customers.customer_rows, 0) as customer_rows,
    coalesce(customers.customers_hash, 0) as customers_hash,
    users.users,
    coalesce(users.users_hash, 0) as users_hash
from months
left join periods on periods.month = months.month
left join customers on customers.month = months.month
cross join users
{%- endmacro %}
