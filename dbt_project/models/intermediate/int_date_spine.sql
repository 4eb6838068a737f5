with bounds as (
    select
        coalesce(min(activity_date), {{ as_of_date() }}) as first_date,
        {{ as_of_date() }} as last_date
    from {{ ref('int_user_activity_daily') }}
),

series as (
    {{ integer_series(36600) }}
),

final as (
    select cast({{ dbt.dateadd('day', 'series.n', 'bounds.first_date') }} as date) as activity_date
    from bounds
    cross join series
    where {{ dbt.dateadd('day', 'series.n', 'bounds.first_date') }} <= bounds.last_date
)

select * from final
