-- Vendor decks' time bands (docs/rating.md).
{{ stg_time_bands('vendor') }}
