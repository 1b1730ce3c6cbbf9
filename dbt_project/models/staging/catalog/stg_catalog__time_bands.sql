-- Customer plans' time bands (docs/rating.md).
{{ stg_time_bands('catalog') }}
