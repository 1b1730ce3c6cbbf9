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

from orchestration.ingestion.sniff import HEAD_BYTES, unsupported_layout
from tests.conftest import REALDATA

pytestmark = pytest.mark.integration

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
def outcomes():
    """Every sample landed on one day, loaded and mediated in one run (ingestion, then the `dbt build` of the
    mediation marts the daily assets run); per sample: its audit row, and the calls, suspense and mediation
    rejects its records became."""
    from orchestration.ingestion.layouts import SOURCES
    from orchestration.ingestion.load import ingest_days
    from orchestration.settings import delivery_range_env, run_dbt
    from orchestration.warehouse import connect
    from tests.test_mediation import MEDIATION_MARTS, SELECTED_TESTS
    from tests.worlds import data_folder

    with data_folder("realdata") as paths:  # on tmpfs
        network = paths.landing / "network" / DAY.isoformat()
        network.mkdir(parents=True)
        (network / "switches.csv").write_text(SWITCHES_CSV)
        for sample in SAMPLES:  # copied into the temporary landing folder only, never into the repository
            folder = paths.landing / source_for(sample) / DAY.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(sample, folder / landed_name(sample))
        with connect(paths.warehouse) as con:
            load = [ingest_days(con, paths.landing, source, [DAY]) for source in SOURCES]
        build = run_dbt(
            paths.data, "build", "--select", *MEDIATION_MARTS, *SELECTED_TESTS,
            env=delivery_range_env(DAY, DAY),
        )  # fmt: skip
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


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_every_sample_is_landed_and_the_run_accounts_for_all_records(outcomes):
    assert SAMPLES, "no sample found"
    assert [loads.refused for loads in outcomes["load"]] == [[]] * len(outcomes["load"])  # nothing outside a day
    assert outcomes["build"].returncode == 0, outcomes["build"].stdout[-3000:]
    landed = {f"{source_for(s)}/{DAY}/{landed_name(s)}" for s in SAMPLES}
    assert landed <= set(outcomes["audit"])  # none skipped: each one has its audit row
    assert outcomes["unaccounted"] == 0


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
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


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_every_known_sample_is_still_there():
    """A sample listed above that disappeared from the folder would silently shrink what is tested."""
    assert set(EXPECTED) - {sample_id(s) for s in SAMPLES} == set()


# ---------------------------------------------------------------------------------------------------------------
# The signatures on hand-made files (these run without the samples)

AST_LINE = (
    '"ACC1","02071234567","00493012345678","from-trunk","""Ann"" <02071234567>","SIP/tr1-0000001a",'
    '"SIP/rt1-0000001b","Dial","SIP/rt1/00493012345678","2026-10-01 12:00:00","2026-10-01 12:00:03",'
    '"2026-10-01 12:00:08",8,5,"ANSWERED","DOCUMENTATION","1.0",""'
)  # 18 columns, like an acc CSV export
ACC_LINE = (
    '"41","BYE","a1b2","c3d4","77@10.0.0.1","200","OK","2026-10-01 12:00:08","100","100@10.0.0.1","10.0.0.1",'
    '"10.0.0.2",,"200","200","local","1","x"'
)
SIGNED = {
    "OpenSIPS acc flatstore": "INVITE|a1b2|c3d4|77@10.0.0.1|486|Busy Here|1759320000|100|200\n"
    "BYE|a1b2|c3d4|78@10.0.0.1|200|OK|1759320060|||\n",
    "OpenSIPS acc CSV export": f"{ACC_LINE}\n",
    "BroadWorks XML": '<?xml version="1.0"?>\n<broadWorksCDR version="21.0">\n  <cdrData>\n',
    "asterisk CEL (Channel Event Logging)": '"HANGUP","2026-10-01 12:00:08","Ann","100","","","","200","default",'
    '"SIP/a-1","","","3","","1759320000.1","1759320000.1","","","",""\n',
    "asterisk CDR table with a header row (cdr_csv files have none)": "accountcode,src,dst,dcontext,clid,channel,"
    "dstchannel,lastapp,lastdata,start,answer,end,duration,billsec,disposition\n",
    "mobile subscriber CDR (bandicoot style: one row per party, no call id)": "interaction,direction,"
    "correspondent_id,datetime,call_duration,antenna_id\ncall,out,x7,2014-03-02 07:13:30,120,1\n",
    "headerless carrier CSV with partial/complete records": "+441,+442,2026-10-01T12:00:00Z,60,partial\n"
    "+441,+442,2026-10-01T12:01:00Z,30,complete\n",
    "fixed-width": f"HDR0001 CARRIER{' ' * 40}\n"
    + "".join(f"CDR{n:07d} 0044207{n:07d}   20261001120000 0000060 ANSWERED  \n" for n in range(5)),
}


@pytest.mark.parametrize("name", SIGNED)
def test_a_signature_names_its_format(name):
    assert unsupported_layout(SIGNED[name].encode()) == name


@pytest.mark.parametrize(
    "text",
    [
        f"{AST_LINE}\n",
        "Ann,100,200,default,2026-10-01 12:00:00,2026-10-01 12:00:03,2026-10-01 12:00:08,8,5,NORMAL_CLEARING,"
        "u1,u2,ACC1\n",  # FreeSWITCH mod_cdr_csv
        "record_id,record_type,call_ref,partial_seq,is_last_partial,trunk_id\n",  # our carrier header
        "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n",
        "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20,
        "",
    ],
    ids=["asterisk", "freeswitch", "carrier", "html", "binary", "empty"],
)
def test_supported_and_unknown_files_match_no_signature(text):
    assert unsupported_layout(text.encode("latin-1", "replace")) is None


def test_a_format_whose_column_count_fits_by_chance_is_refused_not_loaded(paths, con):
    """An acc export has Asterisk's 18 columns: quarantined naming it, while a real 18-column Asterisk file of
    the same day loads; a CEL file arriving gzipped and an OpenSIPS flatstore file under FreeSWITCH are named too."""
    import gzip

    from orchestration.ingestion.load import ingest_day
    from tests.conftest import land

    land(paths, "asterisk", DAY.isoformat(), "a_20261001T01Z.csv", f"{ACC_LINE}\n{ACC_LINE}\n".encode())
    land(paths, "asterisk", DAY.isoformat(), "b_20261001T01Z.csv", f"{AST_LINE}\n".encode())
    cel = SIGNED["asterisk CEL (Channel Event Logging)"].encode()
    land(paths, "asterisk", DAY.isoformat(), "c_20261001T01Z.csv.gz", gzip.compress(cel))
    land(paths, "freeswitch", DAY.isoformat(), "acc_20261001.txt", SIGNED["OpenSIPS acc flatstore"].encode())
    asterisk = ingest_day(con, paths.landing, "asterisk", DAY)
    freeswitch = ingest_day(con, paths.landing, "freeswitch", DAY)
    assert [(f.path.name, f.status, f.reason, f.rows_loaded) for f in asterisk.files + freeswitch.files] == [
        ("a_20261001T01Z.csv", "quarantined", "unsupported_layout: OpenSIPS acc CSV export", 0),
        ("b_20261001T01Z.csv", "loaded", None, 1),
        ("c_20261001T01Z.csv.gz", "quarantined", "unsupported_layout: asterisk CEL (Channel Event Logging)", 0),
        ("acc_20261001.txt", "quarantined", "unsupported_layout: OpenSIPS acc flatstore", 0),
    ]
    assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (1,)
