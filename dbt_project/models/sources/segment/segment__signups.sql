{#- Segment's identify calls naming a user: kpiwatch lands each user once, from the first (raw.users). -#}
{{ config(enabled=env_var('KPIWATCH_SOURCE_USERS', 'contract') == 'segment') }}

{{ track_signups('segment') }}
