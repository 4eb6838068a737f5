{#- Every day a customer's MRR changed, with their MRR before and after that day and the movement, counted at
    each change (event level, ChartMogul style): new (first ever payment), reactivation (paying again after
    paying before), expansion, contraction, churn (MRR falls to 0). A period adds its MRR on the day it starts
    and removes it on the day it ends; changes of one customer on one day are netted (a plan change is one
    expansion or contraction). The month-end bridge (fct_mrr_monthly) nets a whole month instead: a customer
    who cancels on the 5th and returns on the 25th is a churn and a reactivation here, an expansion there. -#}

with periods as (
    select user_id, mrr_usd, started_at, ended_at from {{ ref('int_subscription_periods_usd') }}
),

customer_changes as (
    select user_id, change_date, sum(delta) as delta
    from (
        select user_id, cast(started_at as date) as change_date, mrr_usd as delta from periods
        union all
        select user_id, cast(ended_at as date) as change_date, -mrr_usd as delta from periods where ended_at is not null
    ) as changes
    group by user_id, change_date
),

running as (
    select
        user_id,
        change_date,
        sum(delta) over (partition by user_id order by change_date rows between unbounded preceding and current row)
            as mrr_after
    from customer_changes
),

with_before as (
    select
        user_id,
        change_date,
        coalesce(lag(mrr_after) over (partition by user_id order by change_date), 0) as mrr_before,
        mrr_after,
        -- Whether the customer paid after any earlier change: a first payment is new, a return is not.
        {{ mrr_paid_before('mrr_after', 'change_date') }} as paid_before
    from running
),

final as (
    select
        user_id,
        change_date,
        cast(mrr_before as decimal(38, 6)) as mrr_before_usd,
        cast(mrr_after as decimal(38, 6)) as mrr_after_usd,
        cast(mrr_after - mrr_before as decimal(38, 6)) as mrr_change_usd,
        {{ mrr_movement('mrr_before', 'mrr_after', 'paid_before') }} as movement
    from with_before
)

select * from final
