{{ config(materialized='view') }}
{#- Each user's segments of the dimensions that never change for a user: country, acquisition channel and
    signup cohort (calendar quarter of the signup, UTC). Blank or missing values are 'unknown'. One definition
    for the MRR bridge by segment, active users by segment and `kpiwatch explain`.
    A view on the raw table without the evaluation cutoff: a user's segments do not change, the users after
    the cutoff have no activity or MRR before it, and so a backfill (which re-runs only the daily models, not
    the staging views of the last full run) sees every user it needs. -#}

select
    cast(user_id as varchar) as user_id,
    coalesce(nullif(trim(cast(country as varchar)), ''), 'unknown') as country,
    {{ acquisition_channel('acquisition_channel') }} as acquisition_channel,
    coalesce(
        cast(extract(year from cast(created_at as timestamp)) as varchar) || '-Q'
            || cast(cast(floor((extract(month from cast(created_at as timestamp)) - 1) / 3) + 1 as integer) as varchar),
        'unknown'
    ) as signup_cohort
from {{ source('raw', 'users') }}
