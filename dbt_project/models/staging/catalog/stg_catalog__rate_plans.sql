-- Customer rate plans (DESIGN.md section 5).
{{ stg_rate_plans('catalog') }}
