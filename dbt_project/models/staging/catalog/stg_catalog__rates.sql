-- Customer rate slots (docs/rating.md).
{{ stg_rates('catalog') }}
