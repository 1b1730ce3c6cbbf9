-- Vendor decks' holidays (docs/rating.md).
{{ stg_holidays('vendor') }}
