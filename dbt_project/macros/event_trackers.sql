{#- Helpers of the event tracker adapters (models/sources/segment, rudderstack, snowplow). Each adapter has two
    views: <adapter>__events maps the tracker's events to the contract's columns plus the times landing needs
    (received_at orders duplicates, loaded_at is the watermark), and <adapter>__identities ties anonymous ids to
    user ids. kpiwatch lands new events from them into a table it keeps (kpiwatch/tracker_landing.py). -#}

{#- Segment and RudderStack share one warehouse layout: `tracks` (id = the messageId) and `identifies`. -#}
{% macro track_events(source_name) -%}
select
    cast(id as varchar) as event_id,
    cast(user_id as varchar) as user_id,
    cast(anonymous_id as varchar) as anonymous_id,
    cast(event as varchar) as event_name,
    {{ utc_timestamp('tracks.timestamp') }} as occurred_at,
    {{ utc_timestamp('received_at') }} as received_at,
    {{ utc_timestamp('uuid_ts') }} as loaded_at
from {{ source(source_name, 'tracks') }} as tracks
{%- endmacro %}

{% macro track_identities(source_name) -%}
select
    cast(anonymous_id as varchar) as anonymous_id,
    cast(user_id as varchar) as user_id,
    {{ utc_timestamp('received_at') }} as received_at
from {{ source(source_name, 'identifies') }}
where anonymous_id is not null and user_id is not null
{%- endmacro %}

{#- Signups from identifies: every identify naming a user, its time and what it says of the user's campaign and
    country when the tracker recorded them (analytics.js records UTM parameters as context_campaign_*); kpiwatch
    lands each user once, from the first. -#}
{% macro track_signups(source_name) -%}
{%- set identifies = source(source_name, 'identifies') -%}
select
    cast(user_id as varchar) as user_id,
    {{ utc_timestamp('identifies.timestamp') }} as signed_up_at,
    {{ column_or_null(identifies, 'context_location_country', 'country', 'varchar') }},
    {{ column_or_null(identifies, 'context_campaign_source', 'channel', 'varchar') }},
    {{ utc_timestamp('uuid_ts') }} as loaded_at
from {{ identifies }} as identifies
where user_id is not null
{%- endmacro %}
