"""Writing one switch's hourly CDR files from its rendered lines, with the byte-level faults applied.

The rendered lines of a switch sit in one Arrow string buffer in file order, so a file's body is one
slice of it; only files with a damaged line are split into lines. The loop runs per file, never per call.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from orchestration.ingestion.layouts import CARRIER_COLUMNS
from tools.simulator.faults import HTML_ERROR_PAGE, FileFaults, Patch, backend_name
from tools.simulator.output import Landing, gzipped
from tools.simulator.records import CARRIER, FileTable

CARRIER_HEADER = (",".join(CARRIER_COLUMNS) + "\n").encode()


class LineBuffer:
    """Rendered lines as DuckDB returned them (Arrow large_string chunks), sliced without copying them all.

    Row k is line k; `text(lo, hi)` is the bytes of rows lo..hi-1, which are contiguous inside a chunk.
    """

    def __init__(self, lines: pa.ChunkedArray) -> None:
        self.chunks = [c for c in lines.chunks if len(c)]
        self.starts = np.cumsum([0] + [len(c) for c in self.chunks])
        self.offsets = [np.frombuffer(c.buffers()[1], np.int64)[c.offset : c.offset + len(c) + 1] for c in self.chunks]
        self.data = [c.buffers()[2] for c in self.chunks]

    def text(self, lo: int, hi: int) -> bytes:
        pieces = []
        while lo < hi:
            k = int(np.searchsorted(self.starts, lo, side="right")) - 1
            end = min(hi, int(self.starts[k + 1]))
            offsets, first = self.offsets[k], int(self.starts[k])
            pieces.append(self.data[k][int(offsets[lo - first]) : int(offsets[end - first])].to_pybytes())
            lo = end
        return b"".join(pieces)


def _patched(lines: LineBuffer, lo: int, hi: int, base: int, patches: dict[int, Patch], switch: int) -> bytes:
    """Lines lo..hi (switch-local), with patched lines (keyed by global position) replaced."""
    pieces, cursor = [], lo
    for position in sorted(p for p in patches if lo <= p - base < hi):
        k = position - base
        pieces.append(lines.text(cursor, k))
        pieces.append(patches[position].apply(lines.text(k, k + 1), switch))
        cursor = k + 1
    pieces.append(lines.text(cursor, hi))
    return b"".join(pieces)


def write_switch_files(
    landing: Landing,
    switch: int,
    files: FileTable,
    lines: LineBuffer,
    base: int,
    patches: dict[int, Patch],
    faults: FileFaults,
) -> int:
    """Write every file of `switch`; `lines[k]` is the record at global position base + k.

    Returns the number of CDR lines written (copies included, headers and unreadable decoys not).
    """
    header = CARRIER_HEADER if switch == CARRIER else b""
    patched = np.array(sorted(patches), np.int64)
    written = 0
    for i in map(int, np.flatnonzero(files.switch == switch)):
        lo, hi = int(files.first[i]) - base, int(files.first[i] + files.count[i]) - base
        touched = np.searchsorted(patched, hi + base) > np.searchsorted(patched, lo + base)
        body = _patched(lines, lo, hi, base, patches, switch) if touched else lines.text(lo, hi)
        content = header + body
        data = gzipped(content) if files.gz[i] else content
        landing.write(files.path(i), data)
        written += hi - lo
        if i in faults.redeliveries:
            landing.write(files.path(i, faults.redeliveries[i]), data)
            written += hi - lo
        if i in faults.decoys:
            kind, day = faults.decoys[i]
            bad = data[: len(data) * 3 // 5] if kind == "corrupt_gzip" else HTML_ERROR_PAGE
            landing.write(files.path(i, day), bad)
        if i in faults.backend:
            copied = faults.backend[i] - base
            text = b"".join(lines.text(int(k), int(k) + 1) for k in copied)
            landing.write(f"asterisk/{files.delivered_day(i).isoformat()}/{backend_name(files, i)}", text)
            written += len(copied)
    return written
