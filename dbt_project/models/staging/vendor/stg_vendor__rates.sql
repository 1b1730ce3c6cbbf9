-- Vendor rate slots (DESIGN.md section 5).
{{ stg_rates('vendor') }}
