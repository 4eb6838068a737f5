-- Edge cases of the project's date macros; tests/test_date_macros.py compiles this for DuckDB and for
-- Snowflake and checks both against hand-worked answers. Run with vars as_of=2024-02-29,
-- window_start=2024-03-02, lookback_days=3.
select 'days leap february' as edge_case, cast({{ days_between("cast('2024-02-28' as date)", "cast('2024-03-01' as date)") }} as varchar) as result
union all select 'days across midnight new year', cast({{ days_between("cast('2023-12-31 23:59:59' as timestamp)", "cast('2024-01-01 00:00:00' as timestamp)") }} as varchar)
union all select 'weeks six days', cast({{ weeks_between("cast('2024-01-01' as date)", "cast('2024-01-07' as date)") }} as varchar)
union all select 'weeks seven days', cast({{ weeks_between("cast('2024-01-01' as date)", "cast('2024-01-08' as date)") }} as varchar)
union all select 'weeks across year end', cast({{ weeks_between("cast('2023-12-25' as date)", "cast('2024-01-08' as date)") }} as varchar)
union all select 'weeks backwards', cast({{ weeks_between("cast('2024-01-08' as date)", "cast('2024-01-01' as date)") }} as varchar)
union all select 'months one day apart', cast({{ months_between("cast('2024-01-31' as date)", "cast('2024-02-01' as date)") }} as varchar)
union all select 'months same month', cast({{ months_between("cast('2024-01-01' as date)", "cast('2024-01-31' as date)") }} as varchar)
union all select 'months across year end', cast({{ months_between("cast('2023-12-15' as date)", "cast('2024-01-14' as date)") }} as varchar)
union all select 'months one year', cast({{ months_between("cast('2024-01-01' as date)", "cast('2025-01-01' as date)") }} as varchar)
union all select 'add month to january 31', cast(cast({{ dbt.dateadd('month', 1, "cast('2024-01-31' as date)") }} as date) as varchar)
union all select 'subtract month from march 31', cast(cast({{ dbt.dateadd('month', -1, "cast('2024-03-31' as date)") }} as date) as varchar)
union all select 'month start of leap day', cast({{ month_start("cast('2024-02-29' as date)") }} as varchar)
union all select 'month start of last instant', cast({{ month_start("cast('2024-03-31 23:59:59.999' as timestamp)") }} as varchar)
union all select 'week start of a sunday night', cast({{ week_start("cast('2024-03-31 23:59:59' as timestamp)") }} as varchar)
union all select 'week start of a monday', cast({{ week_start("cast('2024-04-01' as date)") }} as varchar)
union all select 'week start before 2001', cast({{ week_start("cast('1999-12-31' as date)") }} as varchar)
union all select 'day of last instant', cast(cast(cast('2024-03-31 23:59:59.999' as timestamp) as date) as varchar)
union all select 'evaluation cutoff', cast(cast({{ evaluation_cutoff() }} as date) as varchar)
union all select 'first processed day', cast({{ processing_first_day() }} as varchar)
