-- Each time-band row once per ISO weekday it names ('1-5', '6,7', '3'). Parts that are not ISO days are
-- left out here and reported by int_tariff_errors_found (bad_weekdays).
with parts as (
    select *, trim(unnest(string_split(weekdays, ','))) as part from ({{ tariff_rows('time_bands') }})
)

select
    parts.* exclude (part),
    unnest(range(
        cast(split_part(part, '-', 1) as integer),
        cast(case when contains(part, '-') then split_part(part, '-', 2) else part end as integer) + 1
    )) as weekday
from parts
where regexp_full_match(part, '[1-7](-[1-7])?')
