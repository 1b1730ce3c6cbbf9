"""Writing landed files: reference CSVs with the exact layout headers, and deterministic bytes.

Every file goes through `Landing.write`, which counts files and keeps paths relative to the landing
folder (the form the ground truth uses). Gzip always with mtime=0 so the same content gives the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from orchestration.ingestion.layouts import LAYOUTS, Layout

_BY_ENTITY: dict[tuple[str, str], Layout] = {(lay.source, lay.entity): lay for lay in LAYOUTS}


@dataclass(frozen=True)
class RefFile:
    """One reference CSV delivery: source/<day>/<entity>.csv with the layout's header."""

    source: str
    day: date
    entity: str
    rows: Sequence[tuple]

    @property
    def path(self) -> str:
        return f"{self.source}/{self.day.isoformat()}/{self.entity}.csv"

    def to_bytes(self) -> bytes:
        layout = _BY_ENTITY[(self.source, self.entity)]
        return csv_bytes(layout.columns, self.rows)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row has {len(row)} fields, header {len(header)}: {row}")
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)  # level 1: 3x faster than 6, and bytes are bytes


def dec(value: Decimal | str | int, places: int) -> str:
    """A plain decimal string with `places` decimals (never exponent notation, never float noise)."""
    quantum = Decimal(1).scaleb(-places)
    return format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), "f")


class Landing:
    """The landing folder: writes files and keeps count of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = 0
        self.by_source: dict[str, int] = {}

    def write(self, rel_path: str, data: bytes | memoryview) -> None:
        self.claim(rel_path).write_bytes(data)

    def claim(self, rel_path: str) -> Path:
        """The path a new landing file is written to (by `write`, or by DuckDB for the large ones), counted."""
        path = self.root / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise FileExistsError(f"landing file written twice: {rel_path}")
        self.files += 1
        source = rel_path.split("/", 1)[0]
        self.by_source[source] = self.by_source.get(source, 0) + 1
        return path

    def write_ref(self, ref: RefFile) -> None:
        self.write(ref.path, ref.to_bytes())
