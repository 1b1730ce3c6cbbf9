"""What a run found, read back from the warehouse: the summary `make run` and `tollhouse summary` print."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.scoring import ingestion_scorecard


def ingestion_by_source(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The control mart's daily totals summed per source (rows and rejects recounted from the tables)."""
    return con.execute(
        """
        select source, sum(files)::bigint, sum(files_redelivered)::bigint, sum(files_quarantined)::bigint,
               sum(lines)::bigint, sum(raw_rows)::bigint, sum(rejected_lines)::bigint,
               sum(files_exact_parsed)::bigint
        from marts.rpt_ingestion_daily group by source order by source
        """
    ).fetchall()


def rejects_by_reason(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select source, reason, count(*) from raw.rejects group by all order by source, reason"
    ).fetchall()


def quarantined_files(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select path, reason from raw.load_audit where status = 'quarantined' order by path").fetchall()


def format_table(headers: tuple[str, ...], rows: list[tuple]) -> str:
    cells = [tuple(f"{v:,}" if isinstance(v, int) else str(v) for v in row) for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = [
        "  ".join(c.rjust(w) if c[:1].isdigit() else c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells
    ]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def render(con: duckdb.DuckDBPyConnection, ground_truth: Path | None = None) -> str:
    parts = [
        "Ingestion (raw layer)",
        format_table(
            ("source", "files", "re-delivered", "quarantined", "lines", "raw rows", "rejects", "exact-parsed"),
            ingestion_by_source(con),
        ),
    ]
    rejects = rejects_by_reason(con)
    if rejects:
        parts += ["", "Rejected lines by reason", format_table(("source", "reason", "lines"), rejects)]
    quarantined = quarantined_files(con)
    if quarantined:
        parts += ["", "Quarantined files", format_table(("file", "reason"), quarantined)]
    if ground_truth and (ground_truth / "injections.csv").exists():
        card = ingestion_scorecard(con, ground_truth)
        parts += [
            "",
            "Simulator's injected faults that ingestion owns, and how many it found",
            format_table(("fault", "expected effect", "injected", "found"), card),
        ]
    return "\n".join(parts)
