-- Customer plans' holidays (docs/rating.md).
{{ stg_holidays('catalog') }}
