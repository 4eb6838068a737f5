{#- Segment's identify calls: which user each anonymous id became, and when Segment received it. -#}
{{ config(enabled=env_var('KPIWATCH_SOURCE_EVENTS', 'contract') == 'segment') }}

{{ track_identities('segment') }}
