{#- Helpers of the source adapters (models/sources/). -#}

{#- A connector's timestamp as the contract's UTC timestamp without zone: Fivetran writes Stripe's times as
    TIMESTAMP_TZ on Snowflake (converted to UTC here) and as UTC timestamps on DuckDB. -#}
{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'kpiwatch')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{#- The type Fivetran gives Stripe's times: a missing column reads as a null of it. -#}
{% macro stripe_timestamp_type() -%}
    {{ return(adapter.dispatch('stripe_timestamp_type', 'kpiwatch')()) }}
{%- endmacro %}

{% macro default__stripe_timestamp_type() -%}timestamp{%- endmacro %}

{% macro snowflake__stripe_timestamp_type() -%}timestamp_tz{%- endmacro %}

{% macro snowflake__utc_timestamp(column) -%}
    cast(convert_timezone('UTC', {{ column }}) as timestamp_ntz)
{%- endmacro %}

{#- The column when the relation has it, else null: connections sync different column sets (e.g. items carry
    their own current period only since Stripe's 2025-03-31 API). -#}
{% macro column_or_null(relation, column, alias, type) -%}
    {%- set names = [] -%}
    {%- if execute and flags.INTROSPECT -%}  {#- `dbt compile --no-introspect` (offline): null #}
        {%- for c in adapter.get_columns_in_relation(relation) -%}{%- do names.append(c.name | lower) -%}{%- endfor -%}
    {%- endif -%}
    {%- if column | lower in names -%}{{ column }}{%- else -%}cast(null as {{ type }}){%- endif %} as {{ alias }}
{%- endmacro %}

{#- Stripe's amounts are in the currency's smallest unit, except for zero-decimal currencies
    (https://stripe.com/docs/currencies): JPY 500 is 500 yen, USD 500 is 5 dollars. -#}
{% macro stripe_major_units(amount, currency) -%}
    case
        when upper({{ currency }}) in (
            'BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'
        ) then cast({{ amount }} as decimal(38, 6))
        else cast({{ amount }} as decimal(38, 6)) * 0.01
    end
{%- endmacro %}

{#- After the adapter's view is built: raw.<table> presents it, so every check and model reads it as the
    contract table (kpiwatch/source_views.py refuses to replace a real table). -#}
{% macro present_as_raw(table) -%}
    create or replace view raw.{{ table }} as select * from {{ this }}
{%- endmacro %}

{#- Each ad account's currency, from the platform account reports that exist (ad_reporting itself has none):
    (platform, account_id, currency). An account in several currencies over time keeps the last in order. -#}
{% macro ad_account_currencies() -%}
    {%- set reports = [
        ('google_ads', 'google_ads__account_report', 'currency_code'),
        ('facebook_ads', 'facebook_ads__account_report', 'currency'),
        ('linkedin_ads', 'linkedin_ads__account_report', 'currency'),
    ] -%}
    {%- set found = [] -%}
    {%- if execute and flags.INTROSPECT -%}
        {%- for platform, table, column in reports -%}
            {%- set named = source('ad_reporting', table) -%}
            {%- set relation = adapter.get_relation(database=named.database, schema=named.schema, identifier=named.identifier) -%}
            {%- if relation is not none -%}{%- do found.append((platform, named, column)) -%}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for platform, relation, column in found %}
    select '{{ platform }}' as platform, cast(account_id as varchar) as account_id, max(upper({{ column }})) as currency
    from {{ relation }} group by 2
    union all
    {%- endfor %}
    select cast(null as varchar) as platform, cast(null as varchar) as account_id, cast(null as varchar) as currency
    where 1 = 0
{%- endmacro %}

{#- A text field of a JSON object column, by dotted path: Airbyte writes Stripe's nested objects as JSON (DuckDB)
    or VARIANT (Snowflake). -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'kpiwatch')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    json_extract_string({{ column }}, '$.{{ path }}')
{%- endmacro %}

{% macro snowflake__json_text(column, path) -%}
    cast({{ column }}:{{ path }} as varchar)
{%- endmacro %}

{#- Stripe's epoch seconds (as Airbyte syncs them) as a UTC timestamp without zone. -#}
{% macro epoch_timestamp(column) -%}
    {{ return(adapter.dispatch('epoch_timestamp', 'kpiwatch')(column)) }}
{%- endmacro %}

{% macro default__epoch_timestamp(column) -%}
    make_timestamp(cast({{ column }} as bigint) * 1000000)
{%- endmacro %}

{#- Seconds after the epoch, in UTC whatever the session's time zone (as to_timestamp_ntz, which fakesnow lacks). -#}
{% macro snowflake__epoch_timestamp(column) -%}
    dateadd(second, cast({{ column }} as bigint), cast('1970-01-01' as timestamp_ntz))
{%- endmacro %}

{#- The current version of each record of an Airbyte stream: syncs in append mode keep every version (the
    newest by Stripe's `updated`, then by extraction), and deleted records are flagged, not removed. -#}
{% macro airbyte_current(relation, updated=true) -%}
    select * from {{ relation }}
    qualify row_number() over (
        partition by id order by {% if updated %}updated desc nulls last, {% endif %}_airbyte_extracted_at desc
    ) = 1
{%- endmacro %}
