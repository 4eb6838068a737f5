{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=["{{ changed_months_snapshot(mrr_bridge_inputs()) }}",
              "{{ changed_months_delete(mrr_bridge_input_columns()) }}"],
    post_hook=["{{ changed_months_store() }}", "{{ changed_months_drop_snapshot() }}"],
) }}
{#- The MRR bridge by segment: one row per month, dimension and segment with MRR at the month's end and the
    signed movements that led there. For every month and dimension the segments sum to fct_mrr_monthly (a dbt
    test enforces it). Each customer's change in a segment carries the customer's own movement (new,
    expansion, contraction, churn, reactivation), except MRR that moved between segments while the customer
    kept paying (a plan change, a second currency): that part is moved_in where it arrived and moved_out where
    it left, and nets to 0 across a dimension.
    Incremental on the months whose inputs changed (macros/changed_months.sql): a daily run rebuilds the
    running month, a back-dated change every month from the one it touches. Rule, per customer, month and dimension: of the MRR the customer
    gained in some segments (G) and lost in others (L), min(G, L) moved, split over the segments in proportion
    to their gain or loss; the rest is the customer's movement. Upgrading from basic (50) to plus (80): basic
    moved_out -50, plus moved_in +50 and expansion +30, as the company bridge's expansion +30. -#}

{%- set movement_columns = [('new', 'new'), ('expansion', 'expansion'), ('contraction', 'contraction'),
                            ('churn', 'churned'), ('reactivation', 'reactivation')] %}

with rebuild_from as (
    {{ changed_months_first(mrr_bridge_input_columns()) }}
),

months as (
    select * from {{ ref('int_month_spine') }}
    where month >= (select first_month from rebuild_from)
),

-- The month before the first rebuilt one too: its MRR is where the first one's movements start.
segment_months as (
    select * from {{ ref('int_month_spine') }}
    where month >= (select {{ dbt.dateadd('month', -1, 'first_month') }} from rebuild_from)
),

segment_mrr as (
    {{ customer_segment_mrr('segment_months') }}
),

customers as (
    select * from {{ ref('fct_customer_mrr_monthly') }}
    where month >= (select first_month from rebuild_from)
),

previous_month as (
    select user_id, cast({{ dbt.dateadd('month', 1, 'month') }} as date) as month, dimension, segment, mrr_usd
    from segment_mrr
),

pairs as (
    select
        coalesce(current_month.user_id, previous_month.user_id) as user_id,
        coalesce(current_month.month, previous_month.month) as month,
        coalesce(current_month.dimension, previous_month.dimension) as dimension,
        coalesce(current_month.segment, previous_month.segment) as segment,
        coalesce(current_month.mrr_usd, 0) as mrr_usd,
        coalesce(previous_month.mrr_usd, 0) as previous_mrr_usd
    from segment_mrr as current_month
    full outer join previous_month
        on previous_month.user_id = current_month.user_id
        and previous_month.month = current_month.month
        and previous_month.dimension = current_month.dimension
        and previous_month.segment = current_month.segment
),

changes as (
    select
        pairs.*,
        pairs.mrr_usd - pairs.previous_mrr_usd as change_usd,
        sum(case when pairs.mrr_usd > pairs.previous_mrr_usd then pairs.mrr_usd - pairs.previous_mrr_usd else 0 end)
            over (partition by pairs.user_id, pairs.month, pairs.dimension) as gained_usd,
        sum(case when pairs.mrr_usd < pairs.previous_mrr_usd then pairs.previous_mrr_usd - pairs.mrr_usd else 0 end)
            over (partition by pairs.user_id, pairs.month, pairs.dimension) as lost_usd
    from pairs
    inner join months on months.month = pairs.month
),

split as (
    select
        changes.month,
        changes.dimension,
        changes.segment,
        changes.user_id,
        changes.mrr_usd,
        changes.change_usd,
        customer.movement,
        cast(
            case
                when changes.change_usd > 0
                    then cast(changes.change_usd as double) * least(changes.gained_usd, changes.lost_usd) / changes.gained_usd
                else 0
            end as decimal(38, 6)
        ) as moved_in_usd,
        cast(
            case
                when changes.change_usd < 0
                    then cast(changes.change_usd as double) * least(changes.gained_usd, changes.lost_usd) / changes.lost_usd
                else 0
            end as decimal(38, 6)
        ) as moved_out_usd
    from changes
    left join customers as customer
        on customer.user_id = changes.user_id and customer.month = changes.month
),

period_bridge as (
    select
        split.month,
        split.dimension,
        split.segment,
        sum(split.mrr_usd) as mrr_usd,
        sum(case when split.mrr_usd > 0 then 1 else 0 end) as paying_customers,
        {%- for movement, column in movement_columns %}
        sum(case when split.movement = '{{ movement }}' then split.change_usd - split.moved_in_usd - split.moved_out_usd else 0 end)
            as {{ column }}_mrr_usd,
        {%- endfor %}
        sum(split.moved_in_usd) as moved_in_mrr_usd,
        sum(split.moved_out_usd) as moved_out_mrr_usd,
        sum(split.change_usd) as net_new_mrr_usd
    from split
    group by split.month, split.dimension, split.segment
),

-- The user's dimensions: a customer's whole MRR and movement are in one segment of each, so the bridge is the
-- customer bridge (fct_customer_mrr_monthly) summed by segment, nothing moves.
customer_months as (
    select
        customer.month,
        customer.mrr_usd,
        customer.mrr_change_usd,
        customer.movement,
        coalesce(segments.country, 'unknown') as country,
        coalesce(segments.acquisition_channel, 'unknown') as acquisition_channel,
        coalesce(segments.signup_cohort, 'unknown') as signup_cohort
    from customers as customer
    left join {{ ref('int_user_segments') }} as segments on segments.user_id = customer.user_id
),

user_dimensions as (
    {%- set user_aggregates %}
        sum(mrr_usd) as mrr_usd,
        sum(case when mrr_usd > 0 then 1 else 0 end) as paying_customers,
        {%- for movement, column in movement_columns %}
        sum(case when movement = '{{ movement }}' then mrr_change_usd else 0 end) as {{ column }}_mrr_usd,
        {%- endfor %}
        sum(mrr_change_usd) as net_new_mrr_usd
    {%- endset %}
    {{ by_user_dimension('customer_months', 'month', user_aggregates) }}
),

user_bridge as (
    select
        month,
        dimension,
        segment,
        mrr_usd,
        paying_customers,
        {%- for movement, column in movement_columns %}
        {{ column }}_mrr_usd,
        {%- endfor %}
        0 as moved_in_mrr_usd,
        0 as moved_out_mrr_usd,
        net_new_mrr_usd
    from user_dimensions
),

final as (
    select
        bridge.month,
        months.is_complete,
        bridge.dimension,
        bridge.segment,
        cast(bridge.mrr_usd as decimal(38, 6)) as mrr_usd,
        cast(bridge.paying_customers as bigint) as paying_customers,
        {%- for movement, column in movement_columns %}
        cast(bridge.{{ column }}_mrr_usd as decimal(38, 6)) as {{ column }}_mrr_usd,
        {%- endfor %}
        cast(bridge.moved_in_mrr_usd as decimal(38, 6)) as moved_in_mrr_usd,
        cast(bridge.moved_out_mrr_usd as decimal(38, 6)) as moved_out_mrr_usd,
        cast(bridge.net_new_mrr_usd as decimal(38, 6)) as net_new_mrr_usd
    from (
        select * from period_bridge
        union all
        select * from user_bridge
    ) as bridge
    inner join months on months.month = bridge.month
)

select * from final
