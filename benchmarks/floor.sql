-- The floor: the metrics kpiwatch computes from events and subscriptions, as one hand-written DuckDB
-- script with no orchestration, no checks and no dbt. $AS_OF is replaced by the evaluation date.
-- Same definitions as docs/metrics.md: MRR per month-end snapshot (annual / 12, converted to USD),
-- DAU/WAU/MAU per day, 30-day feature adopters, signup-month retention cohorts.
create temp table fx as select * from (values $FX) as t(currency, usd);

create temp table months as
select cast(m as date) as month,
       least(cast(m as date) + interval 1 month, date '$AS_OF' + interval 1 day) as snapshot_at
from range((select date_trunc('month', min(started_at)) from raw.subscriptions), date '$AS_OF' + interval 1 day, interval 1 month) as r(m);

create temp table mrr_monthly as
select months.month, coalesce(sum(s.amount * fx.usd / case s.billing_interval when 'year' then 12 else 1 end), 0) as mrr_usd
from months
left join raw.subscriptions s on s.started_at < months.snapshot_at and (s.ended_at is null or s.ended_at >= months.snapshot_at)
left join fx on fx.currency = s.currency
group by months.month;

create temp table user_days as
select user_id, cast(occurred_at as date) as day
from raw.events where occurred_at < date '$AS_OF' + interval 1 day
group by all;

create temp table feature_days as
select e.user_id, f.feature, cast(e.occurred_at as date) as day
from raw.events e join (values $FEATURE_MAP) as f(event_name, feature) on f.event_name = e.event_name
where e.occurred_at < date '$AS_OF' + interval 1 day
group by all;

-- Distinct users in a trailing window per day: each active day covers [day, day + window); count users
-- covering each date with +1/-1 at the edges of merged coverage ("islands").
create temp macro window_changes(w) as table
    with flagged as (select user_id, day, case when day - lag(day) over (partition by user_id order by day) <= w then 0 else 1 end as new_island from user_days),
    islands as (select user_id, sum(new_island) over (partition by user_id order by day) as island, day from flagged),
    spans as (select min(day) as first_day, max(day) + w as end_day from islands group by user_id, island)
    select first_day as day, 1 as delta from spans union all select end_day, -1 from spans;

create temp table days as select cast(d as date) as day from range((select min(day) from user_days), date '$AS_OF' + interval 1 day, interval 1 day) as r(d);
create temp table active_users as
select days.day,
       coalesce((select count(*) from user_days u where u.day = days.day), 0) as dau,
       sum(coalesce(w.delta, 0)) over (order by days.day) as wau,
       sum(coalesce(m.delta, 0)) over (order by days.day) as mau
from days
left join (select day, sum(delta) as delta from window_changes(7) group by day) w on w.day = days.day
left join (select day, sum(delta) as delta from window_changes(30) group by day) m on m.day = days.day;

create temp table feature_adoption as
with flagged as (select feature, user_id, day, case when day - lag(day) over (partition by feature, user_id order by day) <= 30 then 0 else 1 end as new_island from feature_days),
islands as (select feature, user_id, sum(new_island) over (partition by feature, user_id order by day) as island, day from flagged),
spans as (select feature, min(day) as first_day, max(day) + 30 as end_day from islands group by feature, user_id, island),
changes as (select feature, first_day as day, 1 as delta from spans union all select feature, end_day, -1 from spans)
select days.day, f.feature, sum(coalesce(c.delta, 0)) over (partition by f.feature order by days.day) as adopters_30d
from days cross join (select distinct feature from feature_days) f
left join (select feature, day, sum(delta) as delta from changes group by all) c on c.day = days.day and c.feature = f.feature;

create temp table retention as
with signups as (select user_id, cast(date_trunc('month', created_at) as date) as cohort from raw.users where created_at < date '$AS_OF' + interval 1 day),
active_months as (select distinct user_id, cast(date_trunc('month', day) as date) as month from user_days)
select s.cohort, date_diff('month', s.cohort, a.month) as months_since_signup, count(*) as retained_users
from signups s join active_months a on a.user_id = s.user_id and a.month >= s.cohort
group by all;
