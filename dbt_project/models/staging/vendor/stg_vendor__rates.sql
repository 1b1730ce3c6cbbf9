-- Vendor rate slots (docs/rating.md).
{{ stg_rates('vendor') }}
