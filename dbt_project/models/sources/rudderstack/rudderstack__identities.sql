{#- RudderStack's identify calls: which user each anonymous id became, and when RudderStack received it. -#}
{{ config(enabled=env_var('KPIWATCH_SOURCE_EVENTS', 'contract') == 'rudderstack') }}

{{ track_identities('rudderstack') }}
