-- Customer rate plans (docs/rating.md).
{{ stg_rate_plans('catalog') }}
