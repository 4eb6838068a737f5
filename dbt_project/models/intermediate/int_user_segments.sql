{#- Each user's segments of the dimensions that never change for a user: country, acquisition channel and
    signup cohort (calendar quarter of the signup, UTC). Blank or missing values are 'unknown'. One definition
    for the MRR bridge by segment, active users by segment and `kpiwatch explain`. -#}

select
    user_id,
    coalesce(nullif(trim(country), ''), 'unknown') as country,
    coalesce(acquisition_channel, 'unknown') as acquisition_channel,
    coalesce(
        cast(extract(year from created_at) as varchar) || '-Q'
            || cast(cast(floor((extract(month from created_at) - 1) / 3) + 1 as integer) as varchar),
        'unknown'
    ) as signup_cohort
from {{ ref('stg_users') }}
