{#- Every dimension's segments add up to the company bridge (fct_mrr_monthly) in every month: MRR and each
    movement, to the millionth of a dollar up to rounding of the proportional moves; moves net to 0. -#}
{% test kpiwatch_segments_sum_to_company(model, dimensions) %}
{%- set columns = ['mrr_usd', 'new_mrr_usd', 'expansion_mrr_usd', 'contraction_mrr_usd', 'churned_mrr_usd',
                   'reactivation_mrr_usd', 'net_new_mrr_usd'] %}
with dimensions as (
    {%- for dimension in dimensions %}
    select '{{ dimension }}' as dimension{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

by_dimension as (
    select
        month,
        dimension,
        {%- for column in columns %}
        sum({{ column }}) as {{ column }},
        {%- endfor %}
        sum(moved_in_mrr_usd + moved_out_mrr_usd) as moved_usd
    from {{ model }}
    group by month, dimension
)

select company.month, dimensions.dimension
from {{ ref('fct_mrr_monthly') }} as company
cross join dimensions
left join by_dimension
    on by_dimension.month = company.month and by_dimension.dimension = dimensions.dimension
where
    {%- for column in columns %}
    abs(company.{{ column }} - coalesce(by_dimension.{{ column }}, 0)) > 0.0001 or
    {%- endfor %}
    abs(coalesce(by_dimension.moved_usd, 0)) > 0.0001
{% endtest %}
