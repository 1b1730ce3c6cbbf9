{#- Reference files arrive as a full picture, then deltas: the latest delivered row of a key wins
    (delivery day, then file path, then line). Adds the version's `delivery_date` and lineage (`file_id`,
    `line_no` from the raw table, the file's landing path as `source_path`). -#}
{% macro latest_version(table, keys) -%}
select * exclude (version_rank)
from (
    select
        t.*,
        audit.delivery_date,
        audit.path as source_path,
        row_number() over (
            partition by {{ keys | join(', ') }}
            order by audit.delivery_date desc, audit.path desc, t.line_no desc
        ) as version_rank
    from {{ source('raw', table) }} as t
    inner join {{ source('raw', 'load_audit') }} as audit using (file_id)
    where audit.status = 'loaded'
) as versions
where version_rank = 1
{%- endmacro %}
