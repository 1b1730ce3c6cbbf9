"""Landing file layouts: the one place that says which files a source delivers and what their columns are.

The simulator writes these layouts and raw ingestion reads them; dbt staging models select the raw columns
by the names given here. A layout is either headerless with a fixed list of allowed widths (switch CDR
formats, where the column count tells the variant), a CSV with a header that must match exactly, or one JSON
document per file that ingestion maps to the columns (FreeSWITCH mod_json_cdr).

`LAYOUTS` holds exactly one layout per raw table; `ALTERNATE_LAYOUTS` holds further file formats that load
into one of those tables. `match_layout` knows both.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    source: str
    entity: str
    pattern: str  # fnmatch pattern on the file name, without a .gz suffix
    columns: tuple[str, ...]
    has_header: bool
    widths: tuple[int, ...] = ()  # allowed column counts for headerless layouts; empty means len(columns)
    json_document: bool = False  # one JSON document per file, one record: ingestion maps it to the columns

    @property
    def table(self) -> str:
        """Raw table name in the warehouse's `raw` schema."""
        return f"{self.source}__{self.entity}"

    def sql_columns(self, width: int | None = None) -> str:
        """The first `width` column names, quoted for SQL (Asterisk's `end` is a keyword)."""
        return ", ".join(f'"{name}"' for name in self.columns[: width or len(self.columns)])

    @property
    def allowed_widths(self) -> tuple[int, ...]:
        return self.widths or (len(self.columns),)


# Asterisk cdr_csv (Master.csv). 16 columns base; 17 adds uniqueid; 18 adds userfield; 21 adds
# peeraccount, linkedid, sequence (cdr_csv's `newcdrcolumns`).
ASTERISK_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
)

# FreeSWITCH mod_cdr_csv: the `default` template has 13 columns, the `example` template adds two codecs.
FREESWITCH_COLUMNS = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)

# SIP-trunk carrier CSV, UTC timestamps. Calls longer than the carrier's interim interval arrive as
# `partial` records sharing call_ref, numbered by partial_seq, the last one flagged is_last_partial = 1;
# each partial's billable_s covers its own segment. Short calls arrive as one `complete` record.
CARRIER_COLUMNS = (
    "record_id",
    "record_type",
    "call_ref",
    "partial_seq",
    "is_last_partial",
    "trunk_id",
    "calling_number",
    "called_number",
    "start_time_utc",
    "answer_time_utc",
    "end_time_utc",
    "duration_s",
    "billable_s",
    "release_cause",
    "route_id",
)


def _csv(source: str, entity: str, columns: str) -> Layout:
    return Layout(source, entity, f"{entity}*.csv", tuple(columns.split()), has_header=True)


# Tariff files: one format for customer rate plans (catalog) and vendor cost decks (docs/rating.md).
TARIFF_FILES = {
    "rate_plans": "rate_plan_id currency timezone rounding_method rounding_decimals band_mode",
    "rates": "rate_plan_id prefix destination band valid_from valid_to connect_fee "
    "group_start_s rate rate_unit_s increment_s max_cost",
    "time_bands": "rate_plan_id band weekdays start_time end_time",
    "holidays": "rate_plan_id date band",
}


def _tariff(source: str) -> list[Layout]:
    return [_csv(source, entity, columns) for entity, columns in TARIFF_FILES.items()]


LAYOUTS: tuple[Layout, ...] = (
    # switches: one file per switch and UTC hour, named <switch_id>_<YYYYMMDD>T<HH>Z.csv[.gz]
    Layout("asterisk", "cdr", "*.csv", ASTERISK_COLUMNS, has_header=False, widths=(16, 17, 18, 21)),
    Layout("freeswitch", "cdr", "*.csv", FREESWITCH_COLUMNS, has_header=False, widths=(13, 15)),
    Layout("carrier", "cdr", "*.csv", CARRIER_COLUMNS, has_header=True),
    # network: switch configuration and clock corrections reported by the NOC
    _csv(
        "network",
        "switches",
        "switch_id source timezone country_code country_calling_code "
        "national_prefix international_prefix format_variant valid_from valid_to",
    ),
    _csv("network", "clock_corrections", "switch_id valid_from_utc valid_to_utc offset_seconds note"),
    # crm: the order-to-bill side, effective-dated
    _csv(
        "crm",
        "accounts",
        "account_id account_name country_code currency timezone billing_email "
        "address_line1 city postcode created_date status",
    ),
    _csv(
        "crm", "subscriptions", "subscription_id order_id account_id product_id quantity start_date end_date order_date"
    ),
    _csv("crm", "service_assignments", "identifier_type identifier switch_id account_id valid_from valid_to"),
    # catalog: products, prices and customer tariffs (docs/rating.md)
    _csv("catalog", "products", "product_id product_name charge_type unit"),
    _csv("catalog", "prices", "product_id currency unit_price valid_from valid_to"),
    _csv("catalog", "bundles", "product_id included_seconds call_type"),
    _csv(
        "catalog",
        "volume_tiers",
        "tier_plan_id call_type tier_mode tier_from_units tier_to_units unit_price flat_amount currency unit",
    ),
    _csv("catalog", "tier_assignments", "account_id tier_plan_id valid_from valid_to"),
    _csv("catalog", "promotions", "promotion_id account_id charge_type discount_percent valid_from valid_to"),
    *_tariff("catalog"),
    _csv("catalog", "plan_assignments", "account_id rate_plan_id valid_from valid_to"),
    # vendor: termination (cost) decks, same tariff format, and the routes that use them
    _csv("vendor", "vendors", "vendor_id vendor_name currency rate_plan_id"),
    _csv("vendor", "routes", "route_id vendor_id switch_id valid_from valid_to"),
    *_tariff("vendor"),
    # what each vendor invoiced per month and destination (its deck's prefix): revenue assurance's cost side
    _csv(
        "vendor",
        "vendor_invoices",
        "vendor_invoice_number line_number vendor_id billing_period currency prefix destination calls minutes amount",
    ),
    # fx and tax
    _csv("fx", "fx_rates", "rate_date base_currency quote_currency rate"),
    _csv("tax", "tax_rules", "jurisdiction charge_type tax_name tax_rate valid_from valid_to"),
    # payments: the "collected" side. invoice_number is INV-<YYYYMM>-<account_id> (orchestration/billing/ids.py),
    # or empty for a payment on account, which billing applies to the account's oldest open invoice.
    _csv("payments", "payments", "payment_id account_id invoice_number amount currency received_date method"),
    # billing_export: what the billing system of record invoiced, revenue assurance's "billed" side
    # (docs/assurance.md): invoice headers, and their lines: a usage line per call by its CDR identity (source,
    # record_key), a charge line per subscription and month, a discount line per promotion (product_id names it).
    _csv(
        "billing_export",
        "invoices",
        "invoice_number account_id billing_period currency issue_date net_amount tax_amount total_amount",
    ),
    _csv(
        "billing_export",
        "invoice_lines",
        "invoice_number line_number account_id billing_period line_type source record_key rate_plan_id "
        "subscription_id product_id quantity amount currency",
    ),
)

# FreeSWITCH mod_json_cdr: one JSON document per call (FreeSWITCH names them <uuid>.cdr.json), loaded as one
# 15-column row of the same table as mod_cdr_csv's `example` template (orchestration/ingestion/load.py maps the JSON).
FREESWITCH_JSON_CDR = Layout(
    "freeswitch", "cdr", "*.json", FREESWITCH_COLUMNS, has_header=False, widths=(15,), json_document=True
)

# File formats that load into a table of LAYOUTS. Kept out of LAYOUTS, which has exactly one layout per raw
# table: warehouse.ensure_raw_schema creates and counts the tables from it, the simulator picks a table's
# layout by (source, entity), and the lines_conserved check sums the rows of each layout's table.
ALTERNATE_LAYOUTS: tuple[Layout, ...] = (FREESWITCH_JSON_CDR,)


def _check_alternates() -> None:
    columns = {layout.table: layout.columns for layout in LAYOUTS}
    for alternate in ALTERNATE_LAYOUTS:
        if columns.get(alternate.table) != alternate.columns:
            raise ValueError(f"{alternate.pattern} files must load into a table of LAYOUTS with the same columns")


_check_alternates()

SOURCES: tuple[str, ...] = tuple(dict.fromkeys(layout.source for layout in LAYOUTS))
CDR_SOURCES: tuple[str, ...] = ("asterisk", "freeswitch", "carrier")


def layouts_for(source: str) -> tuple[Layout, ...]:
    """The source's layouts of LAYOUTS: one per raw table the source writes."""
    return tuple(layout for layout in LAYOUTS if layout.source == source)


def match_layout(source: str, file_name: str) -> Layout | None:
    """The layout a landed file belongs to, by its name (a .gz suffix is ignored); None if unknown."""
    name = file_name.removesuffix(".gz")
    for layout in layouts_for(source) + tuple(a for a in ALTERNATE_LAYOUTS if a.source == source):
        if fnmatch.fnmatch(name, layout.pattern):
            return layout
    return None
