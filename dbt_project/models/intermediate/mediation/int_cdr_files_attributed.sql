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
)

select
    f.file_id,
    f.source,
    f.delivery_date,
    f.path,
    f.file_name,
    f.switch_id,
    f.file_hour,
    row_number() over (order by f.delivery_date, f.path) as delivery_order,
    config.timezone,
    config.country_code as home_country,
    config.country_calling_code,
    config.national_prefix,
    config.international_prefix
from with_hour as f
left join {{ ref('stg_network__switches') }} as config
    on config.switch_id = f.switch_id
    and {{ effective_at('config', 'coalesce(cast(f.file_hour as date), f.delivery_date)') }}
