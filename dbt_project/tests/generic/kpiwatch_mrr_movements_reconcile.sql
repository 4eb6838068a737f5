{#- The MRR bridge: each month's signed movements add up to the change in MRR since the previous month. -#}
{% test kpiwatch_mrr_movements_reconcile(model) %}
with ordered as (
    select
        month,
        mrr_usd,
        coalesce(lag(mrr_usd) over (order by month), 0) as previous_mrr_usd,
        new_mrr_usd + expansion_mrr_usd + contraction_mrr_usd + churned_mrr_usd + reactivation_mrr_usd as movements_usd,
        net_new_mrr_usd
    from {{ model }}
)
select *
from ordered
where abs(mrr_usd - previous_mrr_usd - movements_usd) > 0.000001
    or abs(movements_usd - net_new_mrr_usd) > 0.000001
{% endtest %}
