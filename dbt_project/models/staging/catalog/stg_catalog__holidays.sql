-- Customer plans' holidays (DESIGN.md section 5).
{{ stg_holidays('catalog') }}
