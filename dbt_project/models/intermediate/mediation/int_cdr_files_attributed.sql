-- Every loaded switch file with the switch that wrote it, that switch's configuration on the file's day
-- (time zone, dial plan), and the UTC hour the file's name gives.
-- File names are <switch_id>[backend]_<YYYYMMDD>T<HH>Z.csv[.gz]: a second CDR backend on the same switch
-- (ast-lon1b_...) belongs to that switch, so the longest switch id that starts the name wins.
-- delivery_order ranks files by delivery: "first delivered" everywhere in mediation means lowest rank.
with files as (
    select
        file_id,
        source,
        delivery_date,
        path,
        {{ file_name('path') }} as file_name
    from {{ source('raw', 'load_audit') }}
    where status = 'loaded' and source in ('asterisk', 'freeswitch', 'carrier')
),

switches as (
    select distinct switch_id, source from {{ ref('stg_network__switches') }}
),

matched as (
    select
        files.*,
        switches.switch_id,
        row_number() over (partition by files.file_id order by length(switches.switch_id) desc) as match_rank
    from files
    left join switches
        on switches.source = files.source and starts_with(files.file_name, switches.switch_id)
),

with_hour as (
    select
        *,
        {{ parse_timestamp("regexp_extract(file_name, '_([0-9]{8}T[0-9]{2})Z', 1)", '%Y%m%dT%H') }} as file_hour
    from matched
    where match_rank = 1
),

configured as (
    -- two configurations of the switch on the file's day (an overlap in switches.csv): neither is used,
    -- the file's records are rejected as ambiguous_switch_config (stg_network__reference_errors names the row)
    select
        f.*,
        coalesce(cast(f.file_hour as date), f.delivery_date) as config_date,
        config.timezone,
        config.country_code,
        config.country_calling_code,
        config.national_prefix,
        config.international_prefix,
        count(config.switch_id) over (partition by f.file_id) as configurations,
        row_number() over (partition by f.file_id order by config.valid_from) as config_rank
    from with_hour as f
    left join {{ ref('stg_network__switches') }} as config
        on config.switch_id = f.switch_id
        and {{ effective_at('config', 'coalesce(cast(f.file_hour as date), f.delivery_date)') }}
)

select
    file_id,
    source,
    delivery_date,
    path,
    file_name,
    switch_id,
    file_hour,
    row_number() over (order by delivery_date, path) as delivery_order,
    config_date,
    cast(configurations as integer) as configurations,
    case when configurations = 1 then timezone end as timezone,
    case when configurations = 1 then country_code end as home_country,
    case when configurations = 1 then country_calling_code end as country_calling_code,
    case when configurations = 1 then national_prefix end as national_prefix,
    case when configurations = 1 then international_prefix end as international_prefix
from configured
where config_rank = 1
