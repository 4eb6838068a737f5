with first_months as (
    select min(signup_month) as first_month from {{ ref('stg_users') }}
    union all
    select min({{ month_start('started_at') }}) from {{ ref('stg_subscriptions') }}
    union all
    select min(spend_month) from {{ ref('stg_marketing_spend') }}
),

bounds as (
    select
        coalesce(min(first_month), {{ month_start(as_of_date()) }}) as first_month,
        {{ month_start(as_of_date()) }} as last_month
    from first_months
),

series as (
    {{ integer_series(1200) }}
),

-- Counted back from the evaluation month, so the newest months are always there: a stray timestamp
-- decades back (caught by the timestamps_after_earliest check) can cut off old months, never this one.
months as (
    select cast({{ dbt.dateadd('month', '-series.n', 'bounds.last_month') }} as date) as month
    from bounds
    cross join series
    where {{ dbt.dateadd('month', '-series.n', 'bounds.last_month') }} >= bounds.first_month
),

final as (
    select
        month,
        cast({{ dbt.dateadd('month', 1, 'month') }} as timestamp) as next_month_start,
        -- MRR is a snapshot at the month's last instant; for the running month, at the evaluation cutoff.
        case
            when cast({{ dbt.dateadd('month', 1, 'month') }} as timestamp) < {{ evaluation_cutoff() }}
                then cast({{ dbt.dateadd('month', 1, 'month') }} as timestamp)
            else {{ evaluation_cutoff() }}
        end as snapshot_at,
        cast({{ dbt.dateadd('month', 1, 'month') }} as timestamp) <= {{ evaluation_cutoff() }} as is_complete
    from months
)

select * from final
