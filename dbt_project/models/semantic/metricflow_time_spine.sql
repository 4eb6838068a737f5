{#- MetricFlow's day spine (dbt's semantic layer requires one): every day of 2000-2049, fixed, so it never
    depends on the data and costs nothing to rebuild. -#}
with series as (
    {{ integer_series(18263) }}
)

select cast({{ dbt.dateadd('day', 'series.n', "cast('2000-01-01' as date)") }} as date) as date_day
from series
