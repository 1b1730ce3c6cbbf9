-- Vendor cost decks (DESIGN.md section 5).
{{ stg_rate_plans('vendor') }}
