{#- Snowplow has no identify call: a cookie id (domain_userid) belongs to the user an event named with it, from
    the moment the collector received that event. -#}
{{ config(enabled=env_var('KPIWATCH_SOURCE_EVENTS', 'contract') == 'snowplow') }}

select
    cast(domain_userid as varchar) as anonymous_id,
    cast(user_id as varchar) as user_id,
    cast(collector_tstamp as timestamp) as received_at
from {{ source('snowplow', 'events') }}
where domain_userid is not null and user_id is not null
