{#-
  Expected value and robust spread of every series on every target day, learnt from the days before it
  only: the band for day D never sees D or anything after it.

  `series`: a CTE of (metric, segment, metric_date, value) holding the history (at least the 56 days
  before the first target day); `targets`: a CTE of (metric, segment, metric_date, value, method).
  method = 'weekday': the same weekday of the 8 weeks before (day-of-week seasonality: DAU, signups);
  method = 'level':   the 14 days before (a level that moves by trend, not by weekday: MRR, MAU);
  method = 'cohort':  the 8 weekly cohorts before, without a trend (a cohort's rate has a level, and a slope
                     fitted to 8 noisy rates would only add noise: conversion);
  method = 'monthday': the same day of the 6 months before (day-of-month seasonality: month-to-date money,
                     which is 0 on the 1st and grows through the month). Its lag counts months, so its
                     slope is per month.

  Fit: Theil-Sen, the median of the pairwise slopes, so a trend is followed and one odd day cannot tilt
  it; expected = median(value + slope * lag); spread = 1.4826 x median |residual| (the MAD, scaled to a
  standard deviation under normal noise). Fitted twice: the second fit leaves out the training days whose
  residual in the first exceeded `band_outlier_cutoff` spreads, so an earlier anomaly neither widens the
  band nor drags the expected value. The verdict (sensitivity, floor, direction) is applied when the
  band is read (metrics/bands.py), from expectations/anomalies.yml.
-#}
{% macro series_bands(series, targets) -%}
band_lags as (
    select 'weekday' as method, 7 * (n + 1) as lag from ({{ integer_series(8) }}) as weeks
    union all
    select 'cohort' as method, 7 * (n + 1) as lag from ({{ integer_series(8) }}) as weeks
    union all
    select 'level' as method, n + 1 as lag from ({{ integer_series(14) }}) as days
),

-- The training day of each lag as a column first, so the join to the history is on plain columns (a hash join;
-- with the date computed inside the join condition an engine may pair every day with every day first).
band_wanted as (
    select
        targets.metric, targets.segment, targets.metric_date, targets.method, band_lags.lag,
        cast({{ dbt.dateadd('day', '-1 * band_lags.lag', 'targets.metric_date') }} as date) as training_date
    from {{ targets }} as targets
    inner join band_lags on band_lags.method = targets.method
    union all
    -- The same day of earlier months; a 31st learns from the last day of shorter months.
    select
        targets.metric, targets.segment, targets.metric_date, targets.method, months.n + 1 as lag,
        cast({{ dbt.dateadd('month', '-1 * (months.n + 1)', 'targets.metric_date') }} as date) as training_date
    from {{ targets }} as targets
    cross join ({{ integer_series(6) }}) as months
    where targets.method = 'monthday'
),

band_training as (
    select
        band_wanted.metric, band_wanted.segment, band_wanted.metric_date, band_wanted.method, band_wanted.lag,
        history.value
    from band_wanted
    inner join {{ series }} as history
        on history.metric = band_wanted.metric
        and history.segment = band_wanted.segment
        and history.metric_date = band_wanted.training_date
    where history.value is not null
),

{{ theil_sen_fit('band_first_fit', 'band_training') }},

band_kept as (
    select band_training.*
    from band_training
    inner join band_first_fit
        on band_first_fit.metric = band_training.metric
        and band_first_fit.segment = band_training.segment
        and band_first_fit.metric_date = band_training.metric_date
    where abs(band_training.value + band_first_fit.slope * band_training.lag - band_first_fit.expected)
        <= {{ var('band_outlier_cutoff') }} * band_first_fit.spread + 1e-9 * (1 + abs(band_first_fit.expected))
),

{{ theil_sen_fit('band_fit', 'band_kept') }}
{%- endmacro %}

{#- Three CTEs ending in `name`: (metric, segment, metric_date, slope, expected, spread, training_days). -#}
{% macro theil_sen_fit(name, training) -%}
{{ name }}_slope as (
    select
        recent.metric, recent.segment, recent.metric_date,
        median((recent.value - older.value) / cast(older.lag - recent.lag as double)) as slope
    from {{ training }} as recent
    inner join {{ training }} as older
        on older.metric = recent.metric
        and older.segment = recent.segment
        and older.metric_date = recent.metric_date
        and older.lag > recent.lag
    where recent.method <> 'cohort'
    group by recent.metric, recent.segment, recent.metric_date
),

{{ name }}_center as (
    select
        training.metric, training.segment, training.metric_date,
        coalesce(fitted.slope, 0) as slope,
        median(training.value + coalesce(fitted.slope, 0) * training.lag) as expected,
        count(*) as training_days
    from {{ training }} as training
    left join {{ name }}_slope as fitted
        on fitted.metric = training.metric
        and fitted.segment = training.segment
        and fitted.metric_date = training.metric_date
    group by training.metric, training.segment, training.metric_date, coalesce(fitted.slope, 0)
),

{{ name }} as (
    select
        center.metric, center.segment, center.metric_date, center.slope, center.expected, center.training_days,
        1.4826 * median(abs(training.value + center.slope * training.lag - center.expected)) as spread
    from {{ name }}_center as center
    inner join {{ training }} as training
        on training.metric = center.metric
        and training.segment = center.segment
        and training.metric_date = center.metric_date
    group by center.metric, center.segment, center.metric_date, center.slope, center.expected, center.training_days
)
{%- endmacro %}

{#- The days a series model (re)computes, as one-row `bounds` (first_day .. last_day, read_from = first_day),
    like daily_mart_bounds: a full build from `first_day_sql` (read from `relation`), an incremental run
    from the processing window on. -#}
{% macro series_bounds(relation, first_day_sql) -%}
{%- set last_day = daily_mart_last_day('metric_date') -%}
select first_day, first_day as read_from, {{ last_day }} as last_day
from (
    select
        {%- if is_incremental() %}
        greatest({{ processing_first_day() }}, coalesce({{ first_day_sql }}, {{ last_day }})) as first_day
        {%- else %}
        coalesce({{ first_day_sql }}, {{ last_day }}) as first_day
        {%- endif %}
    from {{ relation }}
) as first_data
{%- endmacro %}

{#- A series model's output: every target day with its band. `new_series` holds the (re)computed days
    (metric_date, metric, segment, value, sample_size); on an incremental run the history the bands learn
    from comes from the model itself. sample_size is the denominator of a rate (the signups of a conversion
    cohort), null for other series: the verdict widens a rate's band by its binomial noise. -#}
{% macro series_with_bands(weekday_metrics, monthday_metrics=[], cohort_metrics=[]) -%}
history as (
    {%- if is_incremental() %}
    select previous.metric, previous.segment, previous.metric_date, previous.value
    from {{ this }} as previous
    cross join bounds
    where previous.metric_date < bounds.first_day
        and previous.metric_date >= cast({{ dbt.dateadd('day', -186 if monthday_metrics else -56, 'bounds.first_day') }} as date)
    union all
    {%- endif %}
    select metric, segment, metric_date, value from new_series
),

targets as (
    select
        new_series.*,
        case
            when new_series.metric in ('{{ weekday_metrics | join("', '") }}') then 'weekday'
            when new_series.metric in ('{{ monthday_metrics | join("', '") }}') then 'monthday'
            when new_series.metric in ('{{ cohort_metrics | join("', '") }}') then 'cohort'
            else 'level'
        end as method
    from new_series
),

{{ series_bands('history', 'targets') }}

select
    targets.metric_date,
    targets.metric,
    targets.segment,
    targets.value,
    cast(targets.sample_size as double) as sample_size,
    targets.method,
    band_fit.expected,
    band_fit.spread,
    band_fit.slope,
    cast(coalesce(band_fit.training_days, 0) as integer) as training_days
from targets
left join band_fit
    on band_fit.metric = targets.metric
    and band_fit.segment = targets.segment
    and band_fit.metric_date = targets.metric_date
{%- endmacro %}
