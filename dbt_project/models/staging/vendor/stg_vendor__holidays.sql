-- Vendor decks' holidays (DESIGN.md section 5).
{{ stg_holidays('vendor') }}
