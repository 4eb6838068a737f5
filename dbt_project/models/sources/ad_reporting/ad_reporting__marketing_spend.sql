{#- raw.marketing_spend from Fivetran's ad_reporting: spend per day and channel, the channel being the platform
    (google_ads, facebook_ads, ...) or, with KPIWATCH_SOURCE_AD_REPORTING_CHANNEL=campaign, the campaign's name.
    ad_reporting has no currency ("spend in the currency of each platform"): each account's comes from its
    platform's account report when that is built into the same schema, else KPIWATCH_SOURCE_AD_REPORTING_CURRENCY.
    Hand-worked in tests/test_ad_reporting.py. -#}
{{ config(
    enabled=env_var('KPIWATCH_SOURCE_MARKETING_SPEND', 'contract') == 'ad_reporting',
    post_hook=["{{ present_as_raw('marketing_spend') }}"],
) }}
{%- set by_campaign = env_var('KPIWATCH_SOURCE_AD_REPORTING_CHANNEL', 'platform') == 'campaign' %}

with spend as (
    select
        cast(date_day as date) as spend_date,
        lower(cast(platform as varchar)) as platform,
        cast(account_id as varchar) as account_id,
        {% if by_campaign -%}
        coalesce(cast(campaign_name as varchar), cast(campaign_id as varchar))
        {%- else -%}
        lower(cast(platform as varchar))
        {%- endif %} as channel,
        spend
    from {{ source('ad_reporting', 'ad_reporting__campaign_report' if by_campaign else 'ad_reporting__account_report') }}
    where spend is not null
),

currencies as (
    {{ ad_account_currencies() }}
),

priced as (
    select
        spend.spend_date,
        spend.channel,
        coalesce(currencies.currency, '{{ env_var("KPIWATCH_SOURCE_AD_REPORTING_CURRENCY", "USD") }}') as currency,
        spend.spend
    from spend
    left join currencies on currencies.platform = spend.platform and currencies.account_id = spend.account_id
)

select
    cast(spend_date as date) as spend_date,
    cast(channel as varchar) as channel,
    cast(sum(spend) as decimal(38, 6)) as amount,
    cast(currency as varchar) as currency
from priced
group by spend_date, channel, currency
