"""Every public CDR sample real switches wrote (../shared/realdata, read in place: several are copyleft) is
landed into the source folder that fits it, asterisk by default, and is either loaded, every line a raw row or a
reject and every record mediated into a call, suspense or a mediation reject, or quarantined with a reason that
names the layout recognised. Files are found at run time, so a new sample is covered without a code change; a
sample that is neither loaded nor recognised fails.

The quirks of the loaded samples (field values, reject reasons) are checked in test_ingest.py,
test_ingest_json.py and test_mediation.py; this module checks that no sample is left out or silently dropped.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.layout_sniff import HEAD_BYTES, unsupported_layout
from tests.conftest import REALDATA

pytestmark = [
    pytest.mark.integration,
    pytest.mark.realdata,
    pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent"),
]

DAY = date(2026, 10, 1)
SWITCH = {"asterisk": "ast-lab", "freeswitch": "fs-lab", "carrier": "carrier-lab"}
SAMPLES = (
    sorted(p for p in REALDATA.rglob("*") if p.is_file() and p.suffix != ".md" and not p.name.startswith("."))
    if REALDATA.is_dir()
    else []
)


def sample_id(path: Path) -> str:
    return path.relative_to(REALDATA).as_posix()


def source_for(path: Path) -> str:
    """The source whose folder a sample is delivered to: the one its name says, asterisk by default."""
    return next((source for source in ("freeswitch", "carrier") if source in path.name.lower()), "asterisk")


def landed_name(path: Path) -> str:
    """<switch id>_<folder>__<file>: the switch prefix lets mediation attribute the file to a configured switch."""
    return f"{SWITCH[source_for(path)]}_{path.parent.name}__{path.name}"


# What each known sample becomes, worked out from the files themselves (their SOURCES.md describes them):
# ("loaded", data lines loaded as rows, lines rejected) or ("quarantined", reason).
CEL = "unsupported_layout: asterisk CEL (Channel Event Logging)"
FLATSTORE = "unsupported_layout: OpenSIPS acc flatstore"
MOBILE = "unsupported_layout: mobile subscriber CDR (bandicoot style: one row per party, no call id)"
PARTIAL = "unsupported_layout: headerless carrier CSV with partial/complete records"
EXPECTED = {
    # a CSV made from the documentation's tables: a header row, and the documentation's column order
    "asterisk-docs/cdr_specification_scenarios.csv": (
        "quarantined",
        "unsupported_layout: asterisk CDR table with a header row (cdr_csv files have none)",
    ),
    "asterisk-testsuite/self_test_Master.csv": ("loaded", 2, 0),
    "asterisk-testsuite/self_test_Master2.csv": ("loaded", 1, 0),
    "asterisk-testsuite/cdrlib_good.csv": ("loaded", 5, 0),
    "asterisk-testsuite/cdrlib_buggy.csv": ("loaded", 0, 1),  # its one line opens a quote it never closes
    "asterisk-testsuite/self_test_CELMaster1.csv": ("quarantined", CEL),
    "asterisk-testsuite/self_test_CELMaster2.csv": ("quarantined", CEL),
    "cellyzer/calls_test_data.csv": ("quarantined", MOBILE),
    "cellyzer/calls_long_data.csv": ("quarantined", MOBILE),
    # 18 columns, as many as an Asterisk cdr_csv line: recognised all the same, not loaded as Asterisk
    "cgrates/acc_csv_quoted_invite_ack_bye_cancel.csv": ("quarantined", "unsupported_layout: OpenSIPS acc CSV export"),
    "cgrates/broadworks_cdr_v19.xml": ("quarantined", "unsupported_layout: BroadWorks XML"),
    "cgrates/fixed_width_carrier_cdr.fwv": ("quarantined", "unsupported_layout: fixed-width"),
    "cgrates/freeswitch_json_cdr_2014_repeated_callflow_keys.json": ("loaded", 1, 0),
    "cgrates/freeswitch_json_cdr_answered_hold.json": ("loaded", 1, 0),
    "cgrates/freeswitch_json_cdr_simple.json": ("loaded", 1, 0),
    "cgrates/opensips_flatstore_acc_answered.txt": ("quarantined", FLATSTORE),
    "cgrates/opensips_flatstore_invite_ack_bye.txt": ("quarantined", FLATSTORE),
    "cgrates/opensips_flatstore_missed_calls.txt": ("quarantined", FLATSTORE),
    "cgrates/opensips_flatstore_orphan_bye.txt": ("quarantined", FLATSTORE),
    "cgrates/opensips_flatstore_orphan_invites.txt": ("quarantined", FLATSTORE),
    "cgrates/partial_csv_carrier_1.csv": ("quarantined", PARTIAL),
    "cgrates/partial_csv_carrier_2.csv": ("quarantined", PARTIAL),
    "cgrates/partial_csv_carrier_3.csv": ("quarantined", PARTIAL),
}

SWITCHES_CSV = (
    "switch_id,source,timezone,country_code,country_calling_code,national_prefix,international_prefix,"
    "format_variant,valid_from,valid_to\n"
    "ast-lab,asterisk,UTC,US,1,1,011,cdr_csv_18,2000-01-01,\n"
    "fs-lab,freeswitch,UTC,DE,49,0,00,json,2000-01-01,\n"
)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every sample landed on one day, loaded and mediated in one run; per sample: its audit row, and the calls,
    suspense and mediation rejects its records became."""
    from orchestration.runner import build_models, load_days
    from orchestration.settings import Paths

    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("realdata")
    mp.setenv("TOLLHOUSE_DATA_DIR", str(data))
    mp.setenv("DAGSTER_HOME", str(data / "dagster"))
    paths = Paths(data)
    try:
        network = paths.landing / "network" / DAY.isoformat()
        network.mkdir(parents=True)
        (network / "switches.csv").write_text(SWITCHES_CSV)
        for sample in SAMPLES:  # copied into the temporary landing folder only, never into the repository
            folder = paths.landing / source_for(sample) / DAY.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(sample, folder / landed_name(sample))
        load = load_days(paths, DAY, DAY)
        build = build_models(paths, DAY, DAY)
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            audit = {
                row[0]: row[1:]
                for row in con.execute(
                    """select path, file_id, status, reason, lines - header_lines, rows_loaded, rows_rejected,
                           (select count(*) from raw.rejects r where r.file_id = a.file_id)
                    from raw.load_audit a"""
                ).fetchall()
            }
            raw_rows = dict(
                con.execute(
                    """select file_id, count(*) from (
                        select file_id from raw.asterisk__cdr union all select file_id from raw.freeswitch__cdr
                        union all select file_id from raw.carrier__cdr) group by 1"""
                ).fetchall()
            )
            mediated = dict(
                con.execute(
                    """select file_id, count(*) from (
                        select file_id from marts.fct_calls union all select file_id from marts.fct_suspense
                        union all select file_id from marts.fct_mediation_rejects) group by 1"""
                ).fetchall()
            )
            unaccounted = con.execute("select sum(records_unaccounted) from marts.rpt_mediation_conservation")
            yield {
                "load": load,
                "build": build,
                "audit": audit,
                "raw_rows": raw_rows,
                "mediated": mediated,
                "unaccounted": unaccounted.fetchone()[0],
            }
    finally:
        mp.undo()


def test_every_sample_is_landed_and_the_run_accounts_for_all_records(outcomes):
    assert SAMPLES, "no sample found"
    assert outcomes["load"].success and outcomes["build"].success
    landed = {f"{source_for(s)}/{DAY}/{landed_name(s)}" for s in SAMPLES}
    assert landed <= set(outcomes["audit"])  # none skipped: each one has its audit row
    assert outcomes["unaccounted"] == 0


@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_sample_is_loaded_or_refused_naming_its_layout(outcomes, sample):
    file_id, status, reason, data_lines, rows, rejected, reject_rows = outcomes["audit"][
        f"{source_for(sample)}/{DAY}/{landed_name(sample)}"
    ]
    expected = EXPECTED.get(sample_id(sample))
    if status == "loaded":
        # every line a raw row or a reject, as the audit says and as the tables hold
        assert rows + rejected == data_lines
        assert (outcomes["raw_rows"].get(file_id, 0), reject_rows) == (rows, rejected)
        # and every record mediated: a call, suspense, or a mediation reject (raw rejects included)
        assert outcomes["mediated"].get(file_id, 0) == data_lines
        assert expected in (None, ("loaded", rows, rejected))
    else:
        assert status == "quarantined" and reason.startswith("unsupported_layout: "), reason
        assert expected in (None, ("quarantined", reason))
        # the reason is the sniffer's verdict on the sample's first bytes, wherever it was delivered
        assert reason == f"unsupported_layout: {unsupported_layout(sample.read_bytes()[:HEAD_BYTES])}"


def test_every_known_sample_is_still_there():
    """A sample listed above that disappeared from the folder would silently shrink what is tested."""
    assert set(EXPECTED) - {sample_id(s) for s in SAMPLES} == set()
