-- Vendor decks' time bands (DESIGN.md section 5).
{{ stg_time_bands('vendor') }}
