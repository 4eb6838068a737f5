{#- `aggregates` of `relation` per `day_column` and segment of each user dimension (country, acquisition_channel,
    signup_cohort columns of the relation), as (dimension, segment, day_column, aggregates...): one pass with
    grouping sets instead of a row per user and dimension. -#}
{% macro by_user_dimension(relation, day_column, aggregates) -%}
select
    case
        when grouping(country) = 0 then 'country'
        when grouping(acquisition_channel) = 0 then 'acquisition_channel'
        else 'signup_cohort'
    end as dimension,
    case
        when grouping(country) = 0 then country
        when grouping(acquisition_channel) = 0 then acquisition_channel
        else signup_cohort
    end as segment,
    {{ day_column }},
    {{ aggregates }}
from {{ relation }}
group by grouping sets (({{ day_column }}, country), ({{ day_column }}, acquisition_channel), ({{ day_column }}, signup_cohort))
{%- endmacro %}
