"""From true calls to the records switches write, and from records to hourly files.

A record carries the times as the switch's clock saw them (whole seconds); the carrier splits long
answered calls into interim `partial` records. Files are per switch and UTC hour of the record's
end (when the CDR is written), lines in write order; everything sorts with explicit tie-breakers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from tools.simulator.columnar import Columnar
from tools.simulator.reference import SWITCHES
from tools.simulator.timeline import HOUR
from tools.simulator.traffic import US, Calls

NORMAL, NEAR_DUPLICATE, FILLER = 0, 1, 2  # FILLER: a line whose text a fault supplies (garbage, blank)
CARRIER = 2  # switch index of the carrier, the only source with a header and partial records
INTERIM_S = 1800  # the carrier writes an interim record every 30 minutes of a long call
_EPOCH_DAY = date(1970, 1, 1)


@dataclass
class Records(Columnar):
    call: np.ndarray  # int64 index into Calls
    kind: np.ndarray  # int8 NORMAL | NEAR_DUPLICATE | FILLER
    switch: np.ndarray  # int8
    part: np.ndarray  # int16: 0 for a complete record, else 1..parts
    parts: np.ndarray  # int16
    start_s: np.ndarray  # int64, the switch's clock
    answer_s: np.ndarray  # -1 when unanswered (or not the first partial's answer)
    end_s: np.ndarray
    order_us: np.ndarray  # when the switch wrote the record: the line order inside a file

    @property
    def duration(self) -> np.ndarray:
        return (self.end_s - self.start_s).astype(np.int64)

    @property
    def billable(self) -> np.ndarray:
        return np.where(self.answer_s >= 0, self.end_s - self.answer_s, 0).astype(np.int64)

    @property
    def file_key(self) -> np.ndarray:
        return self.switch.astype(np.int64) * 10**8 + self.end_s // HOUR


def expand(calls: Calls) -> Records:
    """One record per call; carrier calls answered for more than INTERIM_S become partials."""
    start, answer, end = calls.seconds()
    billsec = np.where(answer >= 0, end - answer, 0)
    long = (calls.switch == CARRIER) & (billsec > INTERIM_S)
    parts = np.where(long, -(-billsec // INTERIM_S), 1).astype(np.int64)
    call = np.repeat(np.arange(len(calls), dtype=np.int64), parts)
    k = np.arange(len(call)) - np.repeat(np.cumsum(parts) - parts, parts)  # segment number, 0-based
    n = parts[call]
    a = answer[call]
    seg_start = np.where(k == 0, start[call], a + INTERIM_S * k)
    seg_end = np.where(n == 1, end[call], np.minimum(a + INTERIM_S * (k + 1), end[call]))
    last = k == n - 1
    return Records(
        call=call,
        kind=np.zeros(len(call), np.int8),
        switch=calls.switch[call],
        part=np.where(n > 1, k + 1, 0).astype(np.int16),
        parts=n.astype(np.int16),
        start_s=seg_start,
        answer_s=np.where(k == 0, a, seg_start),
        end_s=seg_end,
        order_us=np.where(last, calls.end_us[call], seg_end * US),
    )


@dataclass
class FileTable:
    """The hourly CDR files: records [first, first + count) of the sorted records belong to file i."""

    switch: np.ndarray
    hour: np.ndarray  # UTC hours since 1970 (switch clock)
    first: np.ndarray
    count: np.ndarray
    gz: np.ndarray  # bool
    delivered: np.ndarray  # days since 1970 of the folder holding the intact copy

    def __len__(self) -> int:
        return len(self.switch)

    def stamp(self, i: int) -> str:
        day = _EPOCH_DAY + timedelta(hours=int(self.hour[i]))
        return f"{day:%Y%m%d}T{int(self.hour[i]) % 24:02d}Z"

    def name(self, i: int) -> str:
        return f"{SWITCHES[int(self.switch[i])].switch_id}_{self.stamp(i)}.csv" + (".gz" if self.gz[i] else "")

    def delivered_day(self, i: int) -> date:
        return _EPOCH_DAY + timedelta(days=int(self.delivered[i]))

    def path(self, i: int, day: date | None = None) -> str:
        source = SWITCHES[int(self.switch[i])].source
        return f"{source}/{(day or self.delivered_day(i)).isoformat()}/{self.name(i)}"

    def paths(self) -> list[str]:
        return [self.path(i) for i in range(len(self))]


def place(
    records: Records, first_day: date, rng: np.random.Generator
) -> tuple[Records, np.ndarray, FileTable, np.ndarray]:
    """Sort records into files and lines.

    A file is delivered on the UTC day of its hour; hours before `first_day` (local midnight east of
    UTC) go out with the first delivery, on `first_day`, together with the reference data.

    Returns the sorted records, the permutation that sorted them (sorted[i] = records[order[i]]),
    the file table, and each sorted record's file index.
    """
    keys, file_of = np.unique(records.file_key, return_inverse=True)
    order = np.lexsort((np.arange(len(records)), records.order_us, file_of))
    file_of = file_of[order]
    counts = np.bincount(file_of, minlength=len(keys))
    hour = keys % 10**8
    files = FileTable(
        switch=(keys // 10**8).astype(np.int8),
        hour=hour,
        first=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
        count=counts.astype(np.int64),
        gz=rng.random(len(keys)) < 0.2,  # about one file in five arrives gzipped
        delivered=np.maximum(hour // 24, (first_day - _EPOCH_DAY).days),
    )
    return records.take(order), order, files, file_of.astype(np.int64)


def line_numbers(switch: np.ndarray, file_of: np.ndarray, files: FileTable) -> np.ndarray:
    """1-based physical line of each sorted record in its decompressed file (after the carrier's header)."""
    position = np.arange(len(file_of)) - files.first[file_of]
    return position + 1 + (switch == CARRIER)
