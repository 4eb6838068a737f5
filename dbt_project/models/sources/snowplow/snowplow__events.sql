{#- Snowplow's atomic.events as kpiwatch events (docs/sources.md, "Event trackers"). The event time is
    derived_tstamp (the collector's time corrected for the device's clock), the name of a structured event its
    se_action. Snowplow's loaders write UTC times without zone. Loaders older than load_tstamp leave it empty: the
    collector's time stands in for it as the watermark. -#}
{{ config(enabled=env_var('KPIWATCH_SOURCE_EVENTS', 'contract') == 'snowplow') }}

select
    cast(event_id as varchar) as event_id,
    cast(user_id as varchar) as user_id,
    cast(domain_userid as varchar) as anonymous_id,
    cast(case when event = 'struct' then se_action else event_name end as varchar) as event_name,
    cast(coalesce(derived_tstamp, collector_tstamp) as timestamp) as occurred_at,
    cast(collector_tstamp as timestamp) as received_at,
    cast(coalesce(load_tstamp, collector_tstamp) as timestamp) as loaded_at
from {{ source('snowplow', 'events') }}
