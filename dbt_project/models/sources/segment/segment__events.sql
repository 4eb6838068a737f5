{#- Segment's track calls as kpiwatch events (macros/event_trackers.sql; docs/sources.md, "Event trackers"). -#}
{{ config(enabled=env_var('KPIWATCH_SOURCE_EVENTS', 'contract') == 'segment') }}

{{ track_events('segment') }}
