{#- raw.users from Stripe's customers as Fivetran syncs them, for a company whose paying users are best known
    by their Stripe customer id. The acquisition channel is not Stripe's to know: it reads 'unknown'. -#}
{{ config(
    enabled=env_var('KPIWATCH_SOURCE_USERS', 'contract') == 'stripe_fivetran',
    post_hook=["{{ present_as_raw('users') }}"],
) }}

select
    cast(id as varchar) as user_id,
    cast({{ utc_timestamp('created') }} as timestamp) as created_at,
    cast(address_country as varchar) as country,
    cast(null as varchar) as acquisition_channel
from {{ source('stripe_fivetran', 'customer') }}
where livemode
