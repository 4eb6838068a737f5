{#- Event-level movements summed over each month give the month-end bridge's net new MRR: the two views
    differ in names (churn + reactivation against expansion), never in the change of MRR. -#}
{% test kpiwatch_monthly_net_matches_bridge(model) %}
with event_level as (
    select month, sum(net_new_mrr_usd) as net_new_mrr_usd
    from {{ model }}
    group by month
)
select bridge.month, bridge.net_new_mrr_usd as bridge_net, coalesce(event_level.net_new_mrr_usd, 0) as event_net
from {{ ref('fct_mrr_monthly') }} as bridge
left join event_level on event_level.month = bridge.month
where abs(bridge.net_new_mrr_usd - coalesce(event_level.net_new_mrr_usd, 0)) > 0.000001
{% endtest %}
