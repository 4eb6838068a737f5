{{ config(
    materialized='incremental',
    tags=['daily'],
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_processed_days('metric_date', daily_mart_last_day('metric_date')) }}",
) }}
{#- The metrics a company declared in dbt's semantic layer and marked as watched (meta: {kpiwatch: {watch: true}}),
    one row per day, with the band learnt from the days before (macros/series_bands.sql), like the built-in
    series. Values come from MetricFlow's SQL of each metric (macros/declared_series.sql). A declaration may
    ref() any kpiwatch model, so this model comes after all of them: -#}
{%- for upstream in [
    'stg_events', 'stg_marketing_spend', 'stg_subscriptions', 'stg_users',
    'int_customer_mrr_changes', 'int_customer_mrr_monthly', 'int_month_spine', 'int_subscription_periods_usd',
    'int_user_activity_daily', 'int_user_activity_monthly', 'int_user_feature_daily', 'int_user_segments',
    'fct_active_users_daily', 'fct_active_users_segment_daily', 'fct_cac_monthly', 'fct_conversion_monthly',
    'fct_customer_mrr_monthly', 'fct_feature_adoption_daily', 'fct_mrr_by_segment_monthly', 'fct_mrr_monthly',
    'fct_mrr_movements_daily', 'fct_retention_cohorts', 'fct_revenue_retention_cohorts', 'fct_unit_economics_monthly',
    'fct_series_acquisition_daily', 'fct_series_activity_daily', 'fct_series_conversion_daily',
    'fct_series_revenue_daily', 'metricflow_time_spine',
] %}
-- depends_on: {{ ref(upstream) }}
{%- endfor %}
{%- set queries = declared_series_queries() %}

with bounds as (
    {{ series_bounds(ref('int_month_spine'), 'min(month)') }}
),

new_series as (
    {%- for query in queries %}
    select
        cast(declared.metric_time__day as date) as metric_date,
        '{{ query[0] }}' as metric,
        {%- if query[2] %}
        coalesce(cast(declared.{{ query[2] }} as varchar), '(none)') as segment,
        {%- else %}
        '{{ query[3] }}' as segment,
        {%- endif %}
        cast(declared.{{ query[0] }} as double) as value,
        cast(null as double) as sample_size
    from ({{ query[4] }}) as declared
    cross join bounds
    where cast(declared.metric_time__day as date) >= bounds.first_day
        and cast(declared.metric_time__day as date) <= bounds.last_day
    union all
    {%- endfor %}
    select
        cast(null as date) as metric_date, cast(null as varchar) as metric, cast(null as varchar) as segment,
        cast(null as double) as value, cast(null as double) as sample_size
    from bounds
    where 1 = 0
),

{{ series_with_bands(
    queries | selectattr(1, 'equalto', 'weekday') | map(attribute=0) | list,
    [],
    [],
) }}
