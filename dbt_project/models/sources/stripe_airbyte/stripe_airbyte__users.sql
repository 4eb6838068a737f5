{#- raw.users from Stripe's customers as Airbyte syncs them (the current version of each; deleted ones left out).
    The acquisition channel is not Stripe's to know: it reads 'unknown'. -#}
{{ config(
    enabled=env_var('KPIWATCH_SOURCE_USERS', 'contract') == 'stripe_airbyte',
    post_hook=["{{ present_as_raw('users') }}"],
) }}

with customers as (
    {{ airbyte_current(source('stripe_airbyte', 'customers')) }}
)

select
    cast(id as varchar) as user_id,
    cast({{ epoch_timestamp('created') }} as timestamp) as created_at,
    cast({{ json_text('address', 'country') }} as varchar) as country,
    cast(null as varchar) as acquisition_channel
from customers
where livemode and not coalesce(is_deleted, false)
