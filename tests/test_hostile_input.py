"""Fail closed, one fault at a time (#19): odd folders, line ends, long fields, hostile manifests and links,
killed loads and arrivals by content. Each bad thing is named and skipped; everything else loads."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from laiou_assets.codes import uscc_check_char
from laiou_assets.contract import FEEDS
from laiou_assets.defs.feeds.sensors import landing_zone_arrivals
from laiou_assets.ingest import arrivals, columnar, reading, records
from laiou_assets.ingest.landing import Delivery, FileFault, manifest_identity, read_manifest, scan
from laiou_assets.ingest.loader import ATTEMPT_LOCK, DIED, clean_stale_scratch, load_delivery, record_dead_attempts
from laiou_assets.partitions import monthly_partitions
from laiou_assets.resources import LandingZoneResource, WarehouseResource
from laiou_assets.running import (
    PROCESS_TAG,
    RANGE_END,
    RANGE_START,
    _in_range,
    build_jobs,
    fail_orphaned_runs,
    process_token,
    run_everything,
)
from tests.deliveries import write, write_bytes

PERIOD = "201811"
TAX = Delivery("tax_payment", PERIOD)
TAX_HEADER = "voucher_no,taxpayer_id,tax_period,tax_type,amount,paid_date"
ENTERPRISE_HEADER = (
    "uscc,reg_no,name,ent_type,parent_uscc,reg_date,district_code,industry_code,reg_capital,status,status_date,"
    "record_date"
)
DECIMAL = re.compile(r"-?[0-9]{1,16}(\.[0-9]{1,2})?")


def connect():
    return psycopg.connect(WarehouseResource().url(), autocommit=True)


def fetch(sql: str, *params) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def load(landing: Path, delivery: Delivery = TAX, **kwargs):
    with connect() as conn:
        return load_delivery(conn, delivery, landing, **kwargs)


def uscc(n: int) -> str:
    first = f"91310115{n:09d}"
    return first + uscc_check_char(first)


def tax_line(i: int) -> str:
    return f"V{i:07d},{uscc(i % 7)},201811,10101,{i}.{i % 100:02d},2018-11-{1 + i % 28:02d}"


def enterprise_line(n: int, name: str, reg_date: str = "2018-11-01") -> str:
    return f"{uscc(n)},,{name},1100,,{reg_date},310115,5191,100.00,1,,2018-11-01"


def expected_manifest(lines: list[str], control: int = 4) -> tuple[int, str]:
    """rows and control total by feeds.md, computed here: every line is a record (no quoted line breaks in
    these files); the control column counts where the record splits into the header's six fields and the
    value is a decimal."""
    total = Decimal(0)
    for line in lines:
        fields = line.split(",")
        if len(fields) == 6 and DECIMAL.fullmatch(fields[control]):
            total += Decimal(fields[control])
    return len(lines), f"{total:.2f}"


def last_log() -> dict:
    cols = "outcome, failure, message, rows, loaded, quarantined, manifest_sha256"
    row = fetch(f"select {cols} from audit.load_log order by load_id desc limit 1")[0]
    return dict(zip(cols.split(", "), row, strict=True))


def force_record_path(monkeypatch) -> None:
    """Every block read record by record (the exact path), as after an anomaly."""

    def never(*_):
        raise columnar.Anomaly("forced")

    monkeypatch.setattr(reading, "parse_block", never)


def evaluate_sensor(landing: Path):
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={"landing": LandingZoneResource(path=str(landing)), "warehouse": WarehouseResource()},
    )
    result = landing_zone_arrivals(context)
    if isinstance(result, dg.SkipReason):
        return []
    return [(r.partition_key, [k.path[-1] for k in r.asset_selection], r.run_key) for r in result]


# ------------------------------------------------------------------------------------------ 3. isolation

ODD_FOLDERS = ["000001", "199001", "209912", "201813", "abcdef"]


def odd_landing(landing: Path) -> list[str]:
    """Two good months of tax_payment and one of saic_shareholder, and the odd folders (with a manifest
    and a CSV each, copied from a good month). Returns the two warnings expected."""
    for period, n in (("201811", 3), ("201812", 2)):
        lines = [
            tax_line(i).replace("201811", period).replace("2018-11", f"{period[:4]}-{period[4:]}") for i in range(n)
        ]
        write(landing, "tax_payment", period, TAX_HEADER + "\n" + "\n".join(lines) + "\n")
    good = landing / "tax_payment" / "201811"
    for name in ODD_FOLDERS:
        folder = landing / "tax_payment" / name
        folder.mkdir()
        for f in good.iterdir():
            (folder / f.name.replace("201811", name)).write_bytes(f.read_bytes())
    last = monthly_partitions.get_last_partition_key()[:7]
    return [
        f"landing zone {landing}: ignored, not a month folder YYYYMM (month 01-12): "
        "tax_payment/201813, tax_payment/abcdef",
        f"landing zone {landing}: ignored, month folder outside the partitions' range 2010-01 … {last}: "
        "tax_payment/000001, tax_payment/199001, tax_payment/209912",
    ]


def test_odd_month_folders_are_named_in_one_warning_line_each_and_skipped(tmp_path):
    expected = odd_landing(tmp_path)
    found = scan(tmp_path)
    assert found.deliveries == [Delivery("tax_payment", "201811"), Delivery("tax_payment", "201812")]
    assert found.warnings == expected


def test_laiou_run_and_the_sensor_name_odd_folders_and_load_every_other_month(laiou_env, capfd):
    landing = laiou_env["landing"]
    expected = odd_landing(landing)

    requested = evaluate_sensor(landing)
    assert [(p, feeds) for p, feeds, _ in requested] == [
        ("2018-11-01", ["tax_payment"]),
        ("2018-12-01", ["tax_payment"]),
    ]
    logged = capfd.readouterr().err
    assert all(line in logged for line in expected)

    assert run_everything(build=False) == 0
    err = capfd.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("warning: landing zone")] == [
        f"warning: {line}" for line in expected
    ]
    assert "Traceback" not in err
    assert fetch("select _period::text, count(*) from raw.tax_payment group by 1 order by 1") == [
        ("2018-11-01", 3),
        ("2018-12-01", 2),
    ]


# ------------------------------------------------------------------------------------------ 4. line ends


@pytest.mark.parametrize("path", ["column-wise", "record by record"])
def test_a_file_mixing_crlf_and_lf_line_ends_loads(laiou_env, monkeypatch, path):
    landing = laiou_env["landing"]
    lines = [tax_line(i) for i in range(60)]
    # Blocks of CRLF only, of LF only, and mixed: COPY sees one line end whatever the blocks hold.
    ends = ["\r\n"] * 20 + ["\n"] * 20 + ["\r\n", "\n"] * 10
    data = (TAX_HEADER + "\r\n" + "".join(line + end for line, end in zip(lines, ends, strict=True))).encode()
    write_bytes(landing, "tax_payment", PERIOD, data, *expected_manifest(lines))
    monkeypatch.setattr(reading, "BLOCK_BYTES", 1024)
    if path == "record by record":
        force_record_path(monkeypatch)

    result = load(landing)
    assert (result.loaded, result.quarantined) == (60, 0)
    loaded = fetch(
        "select _line, voucher_no, taxpayer_id, amount::text, paid_date::text from raw.tax_payment order by 1"
    )
    assert loaded == [
        (i + 2, f[0], f[1], f[4], f[5]) for i, f in enumerate(line.split(",") for line in lines)
    ]  # no CR left in any value


def test_a_crlf_file_with_a_bad_row_after_clean_blocks_loads(laiou_env, monkeypatch):
    """Clean CRLF blocks went to COPY as delivered, the good rows of a block with a bad one as LF: COPY
    refused the mixture ("unquoted newline found in data")."""
    landing = laiou_env["landing"]
    lines = [tax_line(i) for i in range(60)]
    lines[45] = lines[45].replace(",10101,", ",99999,")
    data = (TAX_HEADER + "\r\n" + "".join(line + "\r\n" for line in lines)).encode()
    write_bytes(landing, "tax_payment", PERIOD, data, *expected_manifest(lines))
    monkeypatch.setattr(reading, "BLOCK_BYTES", 1024)

    result = load(landing)
    assert (result.loaded, result.quarantined) == (59, 1)
    assert fetch("select line_no, raw_line, reason from audit.quarantine") == [(47, lines[45], "unknown_code")]


@pytest.mark.parametrize("path", ["column-wise", "record by record"])
def test_a_bare_cr_is_a_character_of_its_field_and_the_row_checks_judge_it(laiou_env, monkeypatch, path):
    """feeds.md: lines end in LF or CRLF. A CR elsewhere is data: a number or date holding one is
    quarantined with the reason of that column, a record it glues to the next has too many fields, a name
    holding one loads as delivered."""
    landing = laiou_env["landing"]
    lines = [
        tax_line(1),
        tax_line(2).replace(",2.02,", ",12.5\r0,"),  # amount: bad_number
        tax_line(3) + "\r",  # a CR before the CRLF: paid_date '2018-11-04\r', bad_date
        tax_line(4) + "\r" + tax_line(5),  # two records glued by a CR: 11 fields
        tax_line(6),
    ]
    data = (TAX_HEADER + "\n" + "".join(line + "\r\n" for line in lines)).encode()
    write_bytes(landing, "tax_payment", PERIOD, data, *expected_manifest(lines))
    names = ["上海\r浦江实业有限公司", "上海\r乙公司"]  # unquoted, then quoted
    enterprise = [enterprise_line(1, names[0]), enterprise_line(2, f'"{names[1]}"')]
    text = ENTERPRISE_HEADER + "\n" + "\n".join(enterprise) + "\n"
    write_bytes(landing, "saic_enterprise", PERIOD, text.encode(), 2, "200.00")
    if path == "record by record":
        force_record_path(monkeypatch)

    result = load(landing)
    assert (result.loaded, result.quarantined) == (2, 3)
    assert fetch("select voucher_no from raw.tax_payment order by _line") == [("V0000001",), ("V0000006",)]
    assert fetch("select line_no, raw_line, reason, detail from audit.quarantine order by line_no") == [
        (3, lines[1], "bad_number", "amount='12.5\\r0'"),
        (4, lines[2], "bad_date", "paid_date='2018-11-04\\r'"),
        (5, lines[3], "field_count", "11 fields, header has 6"),
    ]
    assert load(landing, Delivery("saic_enterprise", PERIOD)).loaded == 2
    assert fetch("select name from raw.saic_enterprise order by _line") == [(names[0],), (names[1],)]


@pytest.mark.parametrize("path", ["column-wise", "record by record"])
def test_a_200_kib_field_is_judged_like_any_other_and_does_not_fail_the_month(laiou_env, monkeypatch, path):
    landing = laiou_env["landing"]
    long_name = "上海" + "浦" * (200 * 1024 // 3) + "有限公司"  # 200 KiB in UTF-8
    lines = [
        enterprise_line(1, long_name),  # loads
        enterprise_line(2, long_name, reg_date="2018-02-30"),  # bad_date
        enterprise_line(3, "上海丙公司"),
    ]
    write(landing, "saic_enterprise", PERIOD, ENTERPRISE_HEADER + "\n" + "\n".join(lines) + "\n")
    if path == "record by record":
        force_record_path(monkeypatch)

    result = load(landing, Delivery("saic_enterprise", PERIOD))
    assert (result.loaded, result.quarantined, result.quarantined_by_reason) == (2, 1, {"bad_date": 1})
    assert fetch("select _line, name from raw.saic_enterprise order by 1") == [(2, long_name), (4, "上海丙公司")]
    assert fetch("select line_no, raw_line, reason, detail from audit.quarantine") == [
        (3, lines[1], "bad_date", "reg_date='2018-02-30'")
    ]


# ------------------------------------------------------------------------------------- 4. manifest values

GOOD_LINES = [tax_line(i) for i in range(5)]


@pytest.mark.parametrize(
    "manifest_text, field, shown",
    [
        ('"rows": 100000000000000000000', "rows", "100000000000000000000 is not a count"),
        ('"rows": true', "rows", "true is not a count"),
        ('"control_totals": {"amount": "Infinity"}', "control_totals.amount", '"Infinity" is not a decimal'),
        ('"control_totals": {"amount": Infinity}', "control_totals.amount", "Infinity is not a decimal"),
        ('"control_totals": {"amount": "1e400"}', "control_totals.amount", '"1e400" is not a decimal'),
        ('"control_totals": {"amount": 1e400}', "control_totals.amount", "Infinity is not a decimal"),
        ('"control_totals": {"amount": "sNaN"}', "control_totals.amount", '"sNaN" is not a decimal'),
    ],
)
def test_manifest_values_out_of_range_or_type_fail_the_month_naming_path_and_field(
    laiou_env, manifest_text, field, shown
):
    landing = laiou_env["landing"]
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    load(landing)
    manifest = folder / f"tax_payment_{PERIOD}.manifest.json"
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    key = manifest_text.split('"')[1]
    del doc[key]
    manifest.write_text(json.dumps(doc)[:-1] + ", " + manifest_text + "}", encoding="utf-8")

    with pytest.raises(FileFault) as fault:
        load(landing)
    message = str(fault.value)
    assert message.startswith(f"{manifest}: manifest field {field}: {shown}")
    assert "\n" not in message
    log = last_log()
    assert (log["outcome"], log["failure"], log["message"], log["rows"]) == ("failed", "file_fault", message, None)
    assert fetch("select count(*) from raw.tax_payment") == [(5,)]  # the month's earlier rows stay


# ------------------------------------------------------------------------------ 4. attempts that die

KILLED_LOAD = """
import os, signal, sys
from pathlib import Path
import psycopg
from laiou_assets.ingest.landing import Delivery
from laiou_assets.ingest.loader import load_delivery
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    # Killed as soon as the first rows are sent: mid-COPY, with the quarantine spool open.
    load_delivery(conn, Delivery("tax_payment", sys.argv[3]), Path(sys.argv[2]),
                  progress=lambda msg: os.kill(os.getpid(), signal.SIGKILL))
"""


def test_a_killed_load_is_logged_failed_at_the_next_start_leaves_no_scratch_and_is_retried_once(laiou_env, tmp_path):
    landing = laiou_env["landing"]
    first = [tax_line(i) for i in range(10)]
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(first) + "\n")
    load(landing)
    correction = [*first, "bad,row"]  # one row to quarantine: the spool is in use when the load dies
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(correction) + "\n")
    identity = manifest_identity(TAX, landing)

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = tmp_path / "killed_load.py"
    script.write_text(KILLED_LOAD)
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, str(script), WarehouseResource().url(), str(landing), PERIOD], env=env)
    assert proc.returncode == -signal.SIGKILL
    assert list(scratch.iterdir()) == []  # nothing left in the temp dir: the spool had no name
    for _ in range(100):  # the server notices the dead client, rolls back and drops its locks
        if not fetch("select 1 from pg_locks where locktype = 'advisory' and classid = %s", ATTEMPT_LOCK):
            break
        time.sleep(0.05)
    assert fetch("select count(*) from audit.load_attempt") == [(1,)]
    assert fetch("select outcome from audit.load_log order by load_id") == [("loaded",)]

    requested = evaluate_sensor(landing)  # the next start: the sensor logs the attempt, and asks again
    log = last_log()
    assert (log["outcome"], log["failure"], log["message"], log["manifest_sha256"]) == (
        "failed",
        "died",
        DIED,
        identity,
    )
    assert fetch("select count(*) from audit.load_attempt") == [(0,)]
    assert [(p, feeds) for p, feeds, _ in requested] == [("2018-11-01", ["tax_payment"])]
    with connect() as conn:
        assert arrivals.find_pending(landing, conn).tries == {TAX: 1}

    # A second death of the same delivery (its attempt's row left, nobody holding its lock): no third try.
    with connect() as conn:
        conn.execute(
            "insert into audit.load_attempt (feed, period, file, manifest_sha256, started_at) "
            "values ('tax_payment', '2018-11-01', %s, %s, now())",
            [str(folder / f"tax_payment_{PERIOD}.csv"), identity],
        )
        assert record_dead_attempts(conn) == [f"tax_payment {PERIOD}: {folder}/tax_payment_{PERIOD}.csv: {DIED}"]
        assert arrivals.pending(landing, conn) == []
    assert fetch("select sum(amount)::text from raw.tax_payment") == [(expected_manifest(first)[1],)]
    assert load(landing).loaded == 10  # loaded by hand, it replaces the month
    assert fetch("select outcome, failure from audit.load_log order by load_id") == [
        ("loaded", None),
        ("failed", "died"),
        ("failed", "died"),
        ("loaded", None),
    ]


def test_a_load_whose_connection_is_lost_is_logged_failed_through_a_new_one(laiou_env):
    landing = laiou_env["landing"]
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    load(landing)
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES[:3]) + "\n")

    with connect() as conn, connect() as admin:
        pid = conn.info.backend_pid

        def cut(_msg):
            admin.execute("select pg_terminate_backend(%s)", [pid])

        with pytest.raises(psycopg.OperationalError):
            load_delivery(conn, TAX, landing, progress=cut)
    log = last_log()
    assert (log["outcome"], log["failure"]) == ("failed", "error")
    assert log["message"].startswith("unexpected error: ") and "\n" not in log["message"]
    assert "terminat" in log["message"]
    assert fetch("select count(*) from raw.tax_payment") == [(5,)]
    assert fetch("select count(*) from audit.load_attempt") == [(0,)]


def test_stale_scratch_folders_are_removed_and_a_load_makes_none(laiou_env, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    stale = scratch / "laiou-load-k1ll3d"
    stale.mkdir()
    (stale / "quarantine.csv").write_text("2,x,field_count,\n")
    assert clean_stale_scratch() == [stale]
    assert list(scratch.iterdir()) == []

    landing = laiou_env["landing"]
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join([*GOOD_LINES, "bad,row"]) + "\n")
    during = []
    result = load(landing, progress=lambda _msg: during.append(sorted(p.name for p in scratch.iterdir())))
    assert (result.loaded, result.quarantined) == (5, 1)
    assert during == [[]] and list(scratch.iterdir()) == []


def test_runs_whose_process_is_gone_are_marked_failed_and_live_ones_kept():
    instance = dg.DagsterInstance.ephemeral()
    me = os.getpid()
    tokens = {
        "killed": process_token(me).rsplit(":", 1)[0] + ":1",  # this pid, started at another time: a reused pid
        "live": process_token(me),
        "elsewhere": f"another-host:{me}:1",
        "untagged": None,
    }
    for run_id, token in tokens.items():
        tags = {PROCESS_TAG: token} if token else {}
        instance.add_run(
            dg.DagsterRun(job_name="ingest_feeds", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags)
        )

    lines = fail_orphaned_runs(instance)
    assert len(lines) == 1 and lines[0].startswith("run killed (ingest_feeds) marked failed: the process")
    statuses = {run_id: instance.get_run_by_id(run_id).status for run_id in tokens}
    assert statuses == {
        "killed": dg.DagsterRunStatus.FAILURE,
        "live": dg.DagsterRunStatus.STARTED,
        "elsewhere": dg.DagsterRunStatus.STARTED,
        "untagged": dg.DagsterRunStatus.STARTED,
    }


# -------------------------------------------------------------------------------- 5. arrival by content


def test_a_delivery_is_new_when_its_manifest_bytes_change_whatever_its_mtime(laiou_env):
    landing = laiou_env["landing"]
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    files = list(folder.iterdir())
    first = evaluate_sensor(landing)
    load(landing)
    assert arrivals.pending(landing, connect()) == []

    later = time.time() + 60
    for f in files:  # touched, same bytes: nothing new
        os.utime(f, (later, later))
    assert arrivals.pending(landing, connect()) == []

    # A correction copied with `cp -p`: other bytes, with mtimes older than the load.
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES[:4]) + "\n")
    old = time.mktime((2019, 1, 5, 8, 0, 0, 0, 0, -1))
    for f in files:
        os.utime(f, (old, old))
    assert arrivals.pending(landing, connect()) == [TAX]
    again = evaluate_sensor(landing)
    assert [p for p, _, _ in again] == ["2018-11-01"] and again[0][2] != first[0][2]
    assert load(landing).loaded == 4
    assert last_log()["manifest_sha256"] == manifest_identity(TAX, landing)

    # A faulty redelivery fails once and is not tried again until redelivered.
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n", rows=6)
    assert arrivals.pending(landing, connect()) == [TAX]
    with pytest.raises(FileFault, match="5 data rows, the manifest says 6"):
        load(landing)
    assert arrivals.pending(landing, connect()) == []
    assert evaluate_sensor(landing) == []


def test_a_warehouse_of_an_earlier_laiou_keeps_the_time_rule_until_its_next_load(laiou_env):
    landing = laiou_env["landing"]
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    load(landing)
    with connect() as conn:  # as an earlier laiou left it
        conn.execute("alter table audit.load_log drop column manifest_sha256, drop column failure")
        assert arrivals.pending(landing, conn) == []
        later = time.time() + 60
        os.utime(folder / f"tax_payment_{PERIOD}.manifest.json", (later, later))
        assert arrivals.pending(landing, conn) == [TAX]
    load(landing)  # adds the columns again
    assert last_log()["manifest_sha256"] == manifest_identity(TAX, landing)
    assert arrivals.pending(landing, connect()) == []


# --------------------------------------------------------------------------- 5. links and bounded reads


def test_links_out_of_the_zone_devices_and_pipes_are_refused_and_reads_are_bounded(laiou_env, tmp_path, monkeypatch):
    landing = laiou_env["landing"]
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    csv_path = folder / f"tax_payment_{PERIOD}.csv"
    manifest = folder / f"tax_payment_{PERIOD}.manifest.json"
    delivered = csv_path.read_bytes()
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(delivered)

    def refused(expected: str) -> None:
        with pytest.raises(FileFault) as fault:
            load(landing)
        assert str(fault.value) == expected
        assert (last_log()["outcome"], last_log()["message"]) == ("failed", expected)

    csv_path.unlink()
    csv_path.symlink_to(outside)
    refused(f"{csv_path}: CSV is a symbolic link to {outside}, outside the landing zone {landing}: refused")

    csv_path.unlink()
    csv_path.symlink_to("/dev/zero")
    refused(f"{csv_path}: CSV is a symbolic link to /dev/zero, outside the landing zone {landing}: refused")
    with pytest.raises(FileFault, match=r"CSV is not a regular file \(a character device\): refused"):
        reading.header_of(csv_path, read_manifest(TAX, landing), FEEDS["tax_payment"])  # as ops_checks read it

    csv_path.unlink()
    os.mkfifo(csv_path)  # opening a pipe would wait for a writer forever
    refused(f"{csv_path}: CSV is not a regular file (a pipe): refused")

    csv_path.unlink()
    (landing / "shared").mkdir()
    (landing / "shared" / "x.csv").write_bytes(delivered)
    csv_path.symlink_to(landing / "shared" / "x.csv")  # a link within the zone is followed
    assert load(landing).loaded == 5

    kept = manifest.read_bytes()
    manifest.unlink()
    manifest.symlink_to("/dev/zero")
    assert manifest_identity(TAX, landing).startswith("refused:")  # the sensor does not read it either
    refused(f"{manifest}: manifest is a symbolic link to /dev/zero, outside the landing zone {landing}: refused")
    manifest.unlink()
    manifest.write_bytes(kept)

    # A header without a line end, and a data line past the limit (made small here), fail without
    # holding the file in memory.
    csv_path.unlink()
    write_bytes(landing, "tax_payment", PERIOD, b"x" * (records.MAX_HEADER_BYTES + 10), 0, "0.00")
    refused(f"{csv_path}:1: no line end in the first 64 KiB: not a header row")
    monkeypatch.setattr(records, "MAX_LINE_BYTES", 1 << 20)
    monkeypatch.setattr(reading, "BLOCK_BYTES", 1 << 16)
    data = (TAX_HEADER + "\n" + GOOD_LINES[0] + "\n").encode() + b"7" * (3 << 19)
    write_bytes(landing, "tax_payment", PERIOD, data, 2, "0.00")
    refused(f"{csv_path}:3: line longer than 1 MiB, which no record of feeds.md is (a file without line ends?)")
    assert fetch("select count(*) from raw.tax_payment") == [(5,)]


# -------------------------------------------------------------------------------- 9. tax refresh range


def test_a_from_to_run_refreshes_the_tax_facts_up_to_the_last_delivered_month(tmp_path):
    for period in ("201812", "201901", "201902"):
        line = tax_line(1).replace("201811", period).replace("2018-11", f"{period[:4]}-{period[4:]}")
        write(tmp_path, "tax_payment", period, TAX_HEADER + "\n" + line + "\n")
    found = scan(tmp_path)
    in_range = _in_range(found.deliveries, "2018-12", "2018-12")
    jobs = dict(build_jobs(max(d.partition_key for d in in_range), found.deliveries, operations=False))
    assert jobs["refresh_tax_facts"]["tags"] == {RANGE_START: "2010-01-01", RANGE_END: "2019-02-01"}
    assert jobs["export_district_packages"] == {"partition_key": "2018-12-01"}  # the month this run loaded
