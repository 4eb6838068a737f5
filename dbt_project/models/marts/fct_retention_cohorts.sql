with users as (
    select * from {{ ref('stg_users') }}
),

{#- Closed months from the monthly activity; the evaluation month from its days up to the evaluation date.
    The incremental activity tables may hold later days, built by a run of a later date: a re-run of a
    past date must not count them (tests/test_past_dates.py). -#}
activity_months as (
    select user_id, activity_month
    from {{ ref('int_user_activity_monthly') }}
    where activity_month < {{ month_start(as_of_date()) }}
    union all
    select distinct user_id, {{ month_start('activity_date') }} as activity_month
    from {{ ref('int_user_activity_daily') }}
    where activity_date >= {{ month_start(as_of_date()) }} and activity_date <= {{ as_of_date() }}
),

cohorts as (
    select signup_month as cohort_month, count(*) as cohort_size
    from users
    group by signup_month
),

months as (
    select month, is_complete from {{ ref('int_month_spine') }}
),

grid as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        months.month as activity_month,
        months.is_complete,
        {{ months_between('cohorts.cohort_month', 'months.month') }} as months_since_signup
    from cohorts
    inner join months on months.month >= cohorts.cohort_month
),

retained as (
    select
        users.signup_month as cohort_month,
        activity_months.activity_month,
        count(*) as retained_users
    from activity_months
    inner join users on users.user_id = activity_months.user_id
    where activity_months.activity_month >= users.signup_month
    group by users.signup_month, activity_months.activity_month
),

final as (
    select
        grid.cohort_month,
        grid.months_since_signup,
        -- False while the cohort's month N is the running month: retention so far, not the month's.
        grid.is_complete,
        grid.cohort_size,
        cast(coalesce(retained.retained_users, 0) as bigint) as retained_users,
        cast(coalesce(retained.retained_users, 0) as double) / grid.cohort_size as retention_rate
    from grid
    left join retained
        on retained.cohort_month = grid.cohort_month and retained.activity_month = grid.activity_month
)

select * from final
