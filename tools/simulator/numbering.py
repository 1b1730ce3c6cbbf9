"""The fictional operator's numbering world: countries, number ranges and the rate-deck prefixes.

Numbers are E.164 digits held as int64 (at most 15 digits). Generation prefixes are finer than rate
prefixes on purpose, so that rating has to find the longest matching prefix (44 / 447 / 4477).
Customer number blocks (DIDs) live in ranges that random callees never fall into, so a random
B-number can never be mistaken for a customer's own number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Countries that appear as destinations; the first three are the operator's home markets.
# The last five only receive fraud (fraud.py): international premium and high-termination ranges.
COUNTRIES: tuple[str, ...] = (
    "GB", "DE", "US", "FR", "ES", "IT", "NL", "IE", "PL", "IN", "PH", "NG", "MX", "CN", "AU",
    "LV", "LT", "CU", "SO", "SL",
)  # fmt: skip
HOME_COUNTRIES: tuple[str, ...] = ("GB", "DE", "US")
COUNTRY_INDEX = {code: i for i, code in enumerate(COUNTRIES)}
CALLING_CODES = {
    "GB": "44", "DE": "49", "US": "1", "FR": "33", "ES": "34", "IT": "39", "NL": "31", "IE": "353",
    "PL": "48", "IN": "91", "PH": "63", "NG": "234", "MX": "52", "CN": "86", "AU": "61",
    "LV": "371", "LT": "370", "CU": "53", "SO": "252", "SL": "232",
}  # fmt: skip
COUNTRY_NAMES = {
    "GB": "United Kingdom", "DE": "Germany", "US": "United States", "FR": "France", "ES": "Spain",
    "IT": "Italy", "NL": "Netherlands", "IE": "Ireland", "PL": "Poland", "IN": "India", "PH": "Philippines",
    "NG": "Nigeria", "MX": "Mexico", "CN": "China", "AU": "Australia",
    "LV": "Latvia", "LT": "Lithuania", "CU": "Cuba", "SO": "Somalia", "SL": "Sierra Leone",
}  # fmt: skip

# A B-number prefix no customer plan prices (Thuraya-style satellite range): unknown_destination.
UNPRICED_PREFIX = "88213"
UNPRICED_LENGTH = 13

# Random callees: (country, class, prefix, total E.164 length, relative weight within country+class).
NUMBER_RANGES: tuple[tuple[str, str, str, int, float], ...] = (
    ("GB", "fixed", "44207", 12, 4), ("GB", "fixed", "44208", 12, 3), ("GB", "fixed", "44161", 12, 2),
    ("GB", "fixed", "44121", 12, 2), ("GB", "fixed", "44113", 12, 1), ("GB", "fixed", "44131", 12, 1),
    ("GB", "fixed", "44117", 12, 1),
    ("GB", "mobile", "4477", 12, 3), ("GB", "mobile", "4478", 12, 2), ("GB", "mobile", "4479", 12, 2),
    ("GB", "mobile", "4474", 12, 1), ("GB", "mobile", "4475", 12, 1),
    ("GB", "toll_free", "448001", 12, 2), ("GB", "toll_free", "448005", 12, 1),
    ("GB", "premium", "44906", 12, 2), ("GB", "premium", "44909", 12, 1),
    ("DE", "fixed", "49304", 12, 4), ("DE", "fixed", "49306", 12, 2), ("DE", "fixed", "4989", 12, 3),
    ("DE", "fixed", "4940", 12, 2), ("DE", "fixed", "49221", 12, 1), ("DE", "fixed", "4969", 12, 1),
    ("DE", "mobile", "49151", 13, 3), ("DE", "mobile", "49152", 13, 2), ("DE", "mobile", "49160", 13, 2),
    ("DE", "mobile", "49170", 13, 2), ("DE", "mobile", "49176", 13, 1),
    ("DE", "toll_free", "498001", 12, 2), ("DE", "toll_free", "498005", 12, 1),
    ("DE", "premium", "49900", 12, 1),
    ("US", "fixed", "1646", 11, 3), ("US", "fixed", "1718", 11, 2), ("US", "fixed", "1312", 11, 2),
    ("US", "fixed", "1617", 11, 2), ("US", "fixed", "1415", 11, 1), ("US", "fixed", "1404", 11, 1),
    ("US", "mobile", "1347", 11, 2), ("US", "mobile", "1917", 11, 2), ("US", "mobile", "1305", 11, 1),
    ("US", "toll_free", "18002", 11, 2), ("US", "toll_free", "1888", 11, 2), ("US", "toll_free", "1877", 11, 1),
    ("US", "premium", "1900", 11, 1),
    ("FR", "fixed", "331", 11, 2), ("FR", "fixed", "334", 11, 1), ("FR", "mobile", "336", 11, 2),
    ("FR", "mobile", "337", 11, 1),
    ("ES", "fixed", "3491", 11, 2), ("ES", "fixed", "3493", 11, 1), ("ES", "mobile", "346", 11, 2),
    ("IT", "fixed", "3902", 12, 2), ("IT", "fixed", "3906", 12, 1), ("IT", "mobile", "393", 12, 2),
    ("NL", "fixed", "3120", 11, 1), ("NL", "mobile", "316", 11, 1),
    ("IE", "fixed", "3531", 11, 1), ("IE", "mobile", "35385", 12, 1),
    ("PL", "fixed", "4822", 11, 1), ("PL", "mobile", "4850", 11, 1),
    ("IN", "fixed", "9122", 12, 1), ("IN", "mobile", "919", 12, 2),
    ("PH", "fixed", "632", 11, 1), ("PH", "mobile", "639", 12, 2),
    ("NG", "fixed", "2341", 11, 1), ("NG", "mobile", "2348", 13, 2),
    ("MX", "fixed", "5255", 12, 2), ("MX", "fixed", "5233", 12, 1),
    ("CN", "fixed", "8610", 12, 1), ("CN", "mobile", "8613", 13, 1), ("CN", "mobile", "8618", 13, 1),
    ("AU", "fixed", "612", 11, 1), ("AU", "mobile", "614", 11, 1),
    # Only fraud dials these (kind premium abroad: no normal call type draws them).
    ("LV", "premium", "37190", 11, 1), ("LT", "premium", "37090", 11, 1), ("CU", "premium", "5352", 10, 1),
    ("SO", "premium", "25290", 12, 1), ("SL", "premium", "23230", 11, 1),
)  # fmt: skip

# Where each home market calls abroad (relative weights); the other home markets are popular.
INTERNATIONAL_MIX: dict[str, dict[str, float]] = {
    "GB": {"DE": 3, "US": 4, "FR": 4, "ES": 3, "IT": 2, "NL": 2, "IE": 4, "PL": 2, "IN": 3, "PH": 1,
           "NG": 2, "AU": 2, "CN": 1},
    "DE": {"GB": 3, "US": 3, "FR": 3, "ES": 2, "IT": 3, "NL": 3, "PL": 4, "IN": 1, "CN": 2, "AU": 1},
    "US": {"GB": 3, "DE": 2, "MX": 6, "IN": 4, "PH": 3, "CN": 2, "FR": 1, "IT": 1, "NG": 1, "IE": 1},
}  # fmt: skip

# Blocks the operator hands out to customers: geographic DIDs and toll-free DIDs, as first E.164 number.
DID_BLOCKS = {
    ("GB", "geo"): 442030000000, ("GB", "toll_free"): 448009000000,
    ("DE", "geo"): 493020000000, ("DE", "toll_free"): 498009000000,
    ("US", "geo"): 12124000000, ("US", "toll_free"): 18009000000,
}  # fmt: skip


@dataclass(frozen=True)
class RatePrefix:
    """One destination of the rate decks, priced in every customer plan and vendor deck."""

    prefix: str
    destination: str
    country: str
    kind: str  # fixed | mobile | toll_free | premium
    base_usd: str  # wholesale cost per minute in USD, the anchor every price derives from


def _p(prefix: str, country: str, kind: str, base: str, label: str = "") -> RatePrefix:
    name = COUNTRY_NAMES[country]
    suffix = label or {"fixed": "Fixed", "mobile": "Mobile", "toll_free": "Freephone", "premium": "Premium"}[kind]
    return RatePrefix(prefix, f"{name} - {suffix}", country, kind, base)


# International premium and high-termination ranges that only fraud calls (simulator/fraud.py): priced in
# every plan and deck like any destination, so fraud is rated and its cost is real.
FRAUD_DESTINATIONS: tuple[RatePrefix, ...] = (
    _p("37190", "LV", "premium", "0.9000"), _p("37090", "LT", "premium", "0.8000"),
    _p("5352", "CU", "premium", "0.7500", "Mobile"), _p("25290", "SO", "premium", "1.2000"),
    _p("23230", "SL", "premium", "0.6500"),
)  # fmt: skip

# Nested on purpose: 44 < 4420 and 447 < 4477; 86 < 861; every generated number matches at least one.
RATE_PREFIXES: tuple[RatePrefix, ...] = (
    _p("44", "GB", "fixed", "0.0060"), _p("4420", "GB", "fixed", "0.0055", "London"),
    _p("447", "GB", "mobile", "0.0120"), _p("4477", "GB", "mobile", "0.0150", "Mobile 77"),
    _p("44800", "GB", "toll_free", "0.0150"), _p("449", "GB", "premium", "0.5000"),
    _p("49", "DE", "fixed", "0.0065"), _p("4930", "DE", "fixed", "0.0060", "Berlin"),
    _p("4915", "DE", "mobile", "0.0140"), _p("4916", "DE", "mobile", "0.0140"),
    _p("4917", "DE", "mobile", "0.0140"), _p("49800", "DE", "toll_free", "0.0200"),
    _p("49900", "DE", "premium", "0.6000"),
    _p("1", "US", "fixed", "0.0040", "Fixed and Mobile"), _p("1800", "US", "toll_free", "0.0150"),
    _p("1888", "US", "toll_free", "0.0150"), _p("1877", "US", "toll_free", "0.0150"),
    _p("1900", "US", "premium", "0.4500"),
    _p("33", "FR", "fixed", "0.0080"), _p("336", "FR", "mobile", "0.0200"), _p("337", "FR", "mobile", "0.0200"),
    _p("34", "ES", "fixed", "0.0080"), _p("346", "ES", "mobile", "0.0180"),
    _p("39", "IT", "fixed", "0.0090"), _p("393", "IT", "mobile", "0.0200"),
    _p("31", "NL", "fixed", "0.0080"), _p("316", "NL", "mobile", "0.0250"),
    _p("353", "IE", "fixed", "0.0100"), _p("3538", "IE", "mobile", "0.0250"),
    _p("48", "PL", "fixed", "0.0090"), _p("485", "PL", "mobile", "0.0120"),
    _p("91", "IN", "fixed", "0.0150"), _p("919", "IN", "mobile", "0.0160"),
    _p("63", "PH", "fixed", "0.1000"), _p("639", "PH", "mobile", "0.1300"),
    _p("234", "NG", "fixed", "0.0900"), _p("2348", "NG", "mobile", "0.1100"),
    _p("52", "MX", "fixed", "0.0120", "Fixed and Mobile"), _p("5255", "MX", "fixed", "0.0080", "Mexico City"),
    _p("86", "CN", "fixed", "0.0100"), _p("861", "CN", "mobile", "0.0100"),
    _p("61", "AU", "fixed", "0.0120"), _p("614", "AU", "mobile", "0.0300"),
)  # fmt: skip
RATE_PREFIXES += FRAUD_DESTINATIONS


@dataclass(frozen=True)
class RangeTable:
    """NUMBER_RANGES as arrays, so that numbers for millions of calls are drawn without a Python loop."""

    country: np.ndarray  # COUNTRY_INDEX
    kind: np.ndarray  # str
    prefix: np.ndarray  # int64
    free_digits: np.ndarray  # digits after the prefix
    weight: np.ndarray

    @classmethod
    def build(cls) -> RangeTable:
        return cls(
            country=np.array([COUNTRY_INDEX[r[0]] for r in NUMBER_RANGES], np.int8),
            kind=np.array([r[1] for r in NUMBER_RANGES]),
            prefix=np.array([int(r[2]) for r in NUMBER_RANGES], np.int64),
            free_digits=np.array([r[3] - len(r[2]) for r in NUMBER_RANGES], np.int64),
            weight=np.array([r[4] for r in NUMBER_RANGES], float),
        )

    def numbers(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        """One random E.164 number per entry of `rows` (indices into the table)."""
        scale = 10 ** self.free_digits[rows]
        return self.prefix[rows] * scale + rng.integers(0, scale)


def unpriced_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    scale = 10 ** (UNPRICED_LENGTH - len(UNPRICED_PREFIX))
    return int(UNPRICED_PREFIX) * scale + rng.integers(0, scale, n)
