"""Score what the pipeline found against the simulator's ground truth (data/ground_truth/injections.csv).

Each injection names its expected effect: `reject:<reason>` (a line rejected with that reason),
`quarantine:<reason>` (a file quarantined for that reason), `redelivery` (a file recognised as a copy),
and later stages' effects (`duplicate_record`, `suspense:...`), scored by the stage that owns them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def ingestion_scorecard(con: duckdb.DuckDBPyConnection, ground_truth: Path) -> list[tuple]:
    """(kind, expected effect, injected, found) for every injection raw ingestion is responsible for."""
    return con.execute(
        """
        with injections as (
            select * from read_csv($path, header = true, all_varchar = true)
            where expected_effect like 'reject:%' or expected_effect like 'quarantine:%'
               or expected_effect = 'redelivery'
        ),
        outcome as (
            select i.kind, i.expected_effect,
                   case
                       when i.expected_effect like 'reject:%' then r.reason = split_part(i.expected_effect, ':', 2)
                       when i.expected_effect like 'quarantine:%' then a.status = 'quarantined'
                            and split_part(a.reason, ':', 1) = split_part(i.expected_effect, ':', 2)
                       else a.status = 'redelivery'
                   end as found
            from injections i
            left join raw.load_audit a on a.path = i.file
            left join raw.rejects r on r.file_id = a.file_id and r.line_no = try_cast(i.line_no as bigint)
        )
        select kind, expected_effect, count(*) as injected, count(*) filter (where found) as found
        from outcome group by all order by kind
        """,
        {"path": str(ground_truth / "injections.csv")},
    ).fetchall()
