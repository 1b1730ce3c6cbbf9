-- Vendor cost decks (docs/rating.md).
{{ stg_rate_plans('vendor') }}
