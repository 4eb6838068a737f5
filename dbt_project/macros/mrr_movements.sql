{#- The MRR movements of a group of rows that carry `movement` and `mrr_change_usd`: customer months in the
    month-end bridge (fct_mrr_monthly), changes in the daily view (fct_mrr_movements_daily). One definition for
    both views, so they cannot drift apart (docs/metrics.md, "Two views of the movements").
    part 'amounts': signed USD per movement and their net; part 'counts': customers who started, churned or
    came back. -#}
{% macro mrr_movement_sums(part) -%}
    {%- set value = '1' if part == 'counts' else 'mrr_change_usd' -%}
    {%- for column, movement in mrr_movement_parts(part) %}
        {%- if movement is none %}
        sum({{ value }}) as {{ column }}{{ ',' if not loop.last }}
        {%- else %}
        sum(case when movement = '{{ movement }}' then {{ value }} else 0 end) as {{ column }}{{ ',' if not loop.last }}
        {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- The same columns from `relation`, zero where it has no row (a day or month without movements). -#}
{% macro mrr_movement_columns(relation, part) -%}
    {%- set type = 'bigint' if part == 'counts' else 'decimal(38, 6)' -%}
    {%- for column, _ in mrr_movement_parts(part) %}
        cast(coalesce({{ relation }}.{{ column }}, 0) as {{ type }}) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- (column, movement) pairs of a part; the net (movement none) sums every movement. -#}
{% macro mrr_movement_parts(part) -%}
    {%- if part == 'amounts' -%}
        {{ return([('new_mrr_usd', 'new'), ('expansion_mrr_usd', 'expansion'), ('contraction_mrr_usd', 'contraction'),
                   ('churned_mrr_usd', 'churn'), ('reactivation_mrr_usd', 'reactivation'), ('net_new_mrr_usd', none)]) }}
    {%- elif part == 'counts' -%}
        {{ return([('new_customers', 'new'), ('churned_customers', 'churn'), ('reactivated_customers', 'reactivation')]) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("mrr_movement_parts: part is 'amounts' or 'counts', not '" ~ part ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- The movement of one customer from MRR `before` to `after`: new (first ever payment), reactivation (paying
    again after paying before), expansion, contraction, churn (MRR falls to 0); null when nothing changed.
    `paid_before` is 1 when the customer paid at any earlier point (mrr_paid_before). Both views classify with it:
    per change (int_customer_mrr_changes) and per month end (fct_customer_mrr_monthly). -#}
{% macro mrr_movement(before, after, paid_before) -%}
    case
            when {{ before }} <= 0 and {{ after }} > 0 and {{ paid_before }} = 1 then 'reactivation'
            when {{ before }} <= 0 and {{ after }} > 0 then 'new'
            when {{ before }} > 0 and {{ after }} <= 0 then 'churn'
            when {{ after }} > {{ before }} then 'expansion'
            when {{ after }} < {{ before }} then 'contraction'
        end
{%- endmacro %}

{#- 1 when the customer's `mrr` was above zero at any earlier row (by `order_by`), else 0: tells a return from
    a first payment. -#}
{% macro mrr_paid_before(mrr, order_by) -%}
    coalesce(
            max(case when {{ mrr }} > 0 then 1 else 0 end) over (
                partition by user_id order by {{ order_by }} rows between unbounded preceding and 1 preceding
            ),
            0
        )
{%- endmacro %}
