with users as (
    select * from {{ ref('stg_users') }}
),

first_payment as (
    select user_id, min(started_at) as first_paid_at
    from {{ ref('stg_subscriptions') }}
    where amount > 0
    group by user_id
),

signups as (
    select
        users.signup_month,
        users.acquisition_channel,
        case
            when first_payment.first_paid_at
                < {{ dbt.dateadd('day', var('conversion_window_days'), 'users.created_at') }} then 1
            else 0
        end as converted
    from users
    left join first_payment on first_payment.user_id = users.user_id
),

per_channel as (
    select signup_month, acquisition_channel, cast(count(*) as bigint) as signups, cast(sum(converted) as bigint) as converted_30d
    from signups
    group by signup_month, acquisition_channel
),

blended as (
    select signup_month, 'all' as acquisition_channel, cast(count(*) as bigint) as signups, cast(sum(converted) as bigint) as converted_30d
    from signups
    group by signup_month
),

final as (
    select
        signup_month,
        acquisition_channel,
        signups,
        converted_30d,
        cast(converted_30d as double) / signups as conversion_rate_30d,
        -- The cohort's window has closed once its last possible signup is 30 days old.
        {{ dbt.dateadd('day', var('conversion_window_days'), dbt.dateadd('month', 1, 'signup_month')) }}
            <= {{ evaluation_cutoff() }} as is_complete
    from (
        select * from per_channel
        union all
        select * from blended
    ) as combined
)

select * from final
