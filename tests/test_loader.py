"""The loader on hand-made deliveries: both reading paths agree, formats round-trip, file faults, a kill."""

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from laiou_assets.codes import uscc_check_char
from laiou_assets.ingest import columnar, reading
from laiou_assets.ingest.landing import Delivery, FileFault, Waiting
from laiou_assets.ingest.loader import load_delivery
from laiou_assets.resources import WarehouseResource
from tests.deliveries import write

PERIOD = "201811"
MONTH = "2018-11-01"


def connect():
    return psycopg.connect(WarehouseResource().url(), autocommit=True)


def fetch(sql: str, *params) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def uscc(n: int) -> str:
    first = f"91310115{n:09d}"
    return first + uscc_check_char(first)


def tax_lines(n: int) -> list[str]:
    return [f"V{i:07d},{uscc(i % 97)},201811,10101,{i % 1000}.{i % 100:02d},2018-11-{1 + i % 28:02d}" for i in range(n)]


def faulty_tax_text() -> tuple[str, dict[str, int]]:
    """Clean vouchers with one of each row fault and a duplicate far from its first occurrence."""
    good = tax_lines(3000)
    bad_uscc = uscc(5)[:17] + ("0" if uscc(5)[17] != "0" else "1")
    faults = {
        100: ("V9000001,{u},201811,10101,10.00", "field_count"),
        700: ("V9000002,{u},201811,10101,,2018-11-02", "missing_field"),
        1200: ("V9000003,{u},201811,10101,x1,2018-11-31", "bad_date"),
        1500: ("V9000004,{u},201811,10101,1.234,2018-11-02", "bad_number"),
        1800: (f"V9000005,{bad_uscc},201811,10101,5.00,2018-11-02", "invalid_uscc"),
        2100: ("V9000006,{u},201811,99999,6.00,2018-11-02", "unknown_code"),
        2400: (good[3], "duplicate_key"),  # the 4th voucher again, blocks later
        2600: ('V9000008,{u},201811,10101,"1,5",2018-11-02', "bad_number"),  # quoted comma
    }
    lines, expected = [], {}
    for i, line in enumerate(good):
        if i in faults:
            text, reason = faults[i]
            lines.append(text.format(u=uscc(1)))
            expected[reason] = expected.get(reason, 0) + 1
        lines.append(line)
    return "voucher_no,taxpayer_id,tax_period,tax_type,amount,paid_date\n" + "\n".join(lines) + "\n", expected


def snapshot() -> tuple[list, list]:
    raw = fetch(
        "select voucher_no, taxpayer_id, tax_period, tax_type, amount, paid_date, _period, _line "
        "from raw.tax_payment order by _line"
    )
    quarantined = fetch("select line_no, raw_line, reason, detail from audit.quarantine order by line_no")
    return raw, quarantined


def test_key_hash_depends_only_on_the_string():
    """The duplicate check hashes keys block by block: a string must hash alike whatever block it is in."""
    import pyarrow as pa

    mixed = pa.array(["V1", "3201812000000000", "", "9131011300009FL062", "V1", "310113000099999"])
    alone = [columnar.hash64(pa.array([v]))[0] for v in mixed.to_pylist()]
    assert list(columnar.hash64(mixed)) == alone
    assert alone[0] == alone[4]
    assert len({alone[i] for i in (0, 1, 2, 3, 5)}) == 5
    sliced = mixed.slice(3, 2)  # an Arrow slice has an offset into its buffers
    assert list(columnar.hash64(sliced)) == alone[3:5]
    neighbours = pa.array([f"3201812{i:09d}" for i in range(100_000)])  # same length, one digit apart
    assert len(set(columnar.hash64(neighbours).tolist())) == 100_000


def test_column_wise_and_row_by_row_reading_load_and_quarantine_identically(laiou_env, monkeypatch):
    landing = laiou_env["landing"]
    text, expected = faulty_tax_text()
    write(landing, "tax_payment", PERIOD, text)
    delivery = Delivery("tax_payment", PERIOD)

    monkeypatch.setattr(reading, "BLOCK_BYTES", 8192)  # many blocks: faults and the duplicate fall apart
    with connect() as conn:
        fast = load_delivery(conn, delivery, landing)
    fast_rows = snapshot()

    def never(*_):
        raise columnar.Anomaly("forced")

    parse_block = reading.parse_block
    monkeypatch.setattr(reading, "parse_block", never)  # every block read record by record
    with connect() as conn:
        exact = load_delivery(conn, delivery, landing)
    assert snapshot() == fast_rows

    # Only this patch is undone: monkeypatch.undo() would also drop laiou_env's scratch database from the
    # environment and write into the default warehouse.
    monkeypatch.setattr(reading, "parse_block", parse_block)
    monkeypatch.setattr(reading, "hash64", lambda values: np.zeros(len(values), np.uint64))  # every key collides
    with connect() as conn:
        colliding = load_delivery(conn, delivery, landing)
    assert snapshot() == fast_rows  # the second, exact pass decides: only true repeats are retracted

    for result in (fast, exact, colliding):
        assert result.quarantined_by_reason == expected
        assert result.loaded == 3000 and result.loaded + result.quarantined == result.rows
    raw, quarantined = fast_rows
    lines = text.splitlines()
    for line_no, raw_line, _reason, _detail in quarantined:
        assert lines[line_no - 1] == raw_line  # the line as delivered, at its line number
    duplicate = next(q for q in quarantined if q[2] == "duplicate_key")
    assert duplicate[1] == lines[4]  # the repeat of the 4th voucher (line 5); the first occurrence loaded
    assert [r[7] for r in raw if r[0] == "V0000003"] == [5]


ENTERPRISE_HEADER = (
    "uscc,reg_no,name,ent_type,parent_uscc,reg_date,district_code,industry_code,reg_capital,status,status_date,"
    "record_date"
)
HOSTILE_NAMES = [
    "上海浦江实业有限公司",
    '上海"新华"贸易有限公司',
    "上海甲,乙,丙咨询有限公司",
    "上海多行\n名称有限公司",
    "x'); drop table raw.saic_enterprise; --",
    "  前后空格  ",
    "𠮷野家（上海）餐饮有限公司",  # outside the BMP: four bytes in GB18030 too
]


def enterprise_text(order: list[str], eol: str) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator=eol)
    w.writerow(order)
    for i, name in enumerate(HOSTILE_NAMES):
        row = {
            "uscc": uscc(100 + i),
            "reg_no": "",
            "name": name,
            "ent_type": "1100",
            "parent_uscc": "",
            "reg_date": "2018-11-01",
            "district_code": "310115",
            "industry_code": "5191",
            "reg_capital": "100.00",
            "status": "1",
            "status_date": "",
            "record_date": "2018-11-01",
        }
        w.writerow([row[c] for c in order])
    return out.getvalue()


@pytest.mark.parametrize(
    "encoding, bom, eol",
    [("UTF-8", False, "\n"), ("UTF-8", True, "\r\n"), ("GB18030", False, "\r\n")],
)
def test_encodings_line_ends_column_order_and_hostile_text_round_trip(laiou_env, encoding, bom, eol):
    landing = laiou_env["landing"]
    order = ENTERPRISE_HEADER.split(",")[::-1]  # the header in another order than feeds.md's
    write(landing, "saic_enterprise", PERIOD, enterprise_text(order, eol), encoding=encoding, bom=bom)
    with connect() as conn:
        result = load_delivery(conn, Delivery("saic_enterprise", PERIOD), landing)
    assert (result.loaded, result.quarantined) == (len(HOSTILE_NAMES), 0)
    names = fetch("select name, _line, status_date, reg_no from raw.saic_enterprise order by _line")
    assert [n for n, *_ in names] == HOSTILE_NAMES  # byte-exact, the line break inside the quotes too
    # The record with a line break inside a quoted name takes two lines; the next starts one later.
    assert [line for _, line, *_ in names] == [2, 3, 4, 5, 7, 8, 9]
    assert all(sd is None and rn is None for _, _, sd, rn in names)  # empty fields are NULL
    assert fetch("select count(*) from pg_tables where schemaname = 'raw' and tablename = 'saic_enterprise'") == [(1,)]


@pytest.mark.parametrize(
    "encoding, bad_bytes",
    [("UTF-8", b"\xff\xfe"), ("GB18030", b"\x81\x20")],
)
def test_undecodable_bytes_fail_the_month_naming_the_line(laiou_env, encoding, bad_bytes):
    landing = laiou_env["landing"]
    text = "voucher_no,taxpayer_id,tax_period,tax_type,amount,paid_date\n" + "\n".join(tax_lines(50)) + "\n"
    folder = write(landing, "tax_payment", PERIOD, text, encoding=encoding)
    with connect() as conn:
        load_delivery(conn, Delivery("tax_payment", PERIOD), landing)
    path = folder / f"tax_payment_{PERIOD}.csv"
    data = path.read_bytes().split(b"\n")
    data[30] = data[30][:5] + bad_bytes + data[30][5:]  # line 31
    path.write_bytes(b"\n".join(data))
    write_manifest_for(path, encoding)
    with connect() as conn, pytest.raises(FileFault, match=rf"tax_payment_{PERIOD}.csv:31: bytes not valid {encoding}"):
        load_delivery(conn, Delivery("tax_payment", PERIOD), landing)
    assert fetch("select count(*) from raw.tax_payment") == [(50,)]  # the earlier load stays
    assert fetch("select outcome from audit.load_log order by load_id") == [("loaded",), ("failed",)]


def write_manifest_for(path: Path, encoding: str) -> None:
    import hashlib
    import json

    manifest_path = path.with_name(path.name.replace(".csv", ".manifest.json"))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def test_missing_column_fails_and_a_csv_without_manifest_waits(laiou_env):
    landing = laiou_env["landing"]
    text = f"voucher_no,taxpayer_id,tax_period,tax_type,paid_date\nV1,{uscc(1)},201811,10101,2018-11-02\n"
    folder = write(landing, "tax_payment", PERIOD, text.replace("paid_date", "amount").replace("2018-11-02", "1.00"))
    with (
        connect() as conn,
        pytest.raises(FileFault, match=r":1: required column\(s\) missing from the header: paid_date"),
    ):
        load_delivery(conn, Delivery("tax_payment", PERIOD), landing)
    (folder / f"tax_payment_{PERIOD}.manifest.json").unlink()
    with connect() as conn, pytest.raises(Waiting):
        load_delivery(conn, Delivery("tax_payment", PERIOD), landing)
    assert fetch("select outcome from audit.load_log") == [("failed",)]  # waiting is not an attempt


KILL_SCRIPT = """
import sys
from pathlib import Path
import psycopg
from laiou_assets.ingest.landing import Delivery
from laiou_assets.ingest.loader import load_delivery
if __name__ == "__main__":
    with psycopg.connect(sys.argv[1], autocommit=True) as conn:
        load_delivery(conn, Delivery("tax_payment", sys.argv[3]), Path(sys.argv[2]))
"""


def test_a_load_killed_during_copy_leaves_the_month_as_it_was_and_can_be_rerun(laiou_env, tmp_path):
    landing = laiou_env["landing"]
    header = "voucher_no,taxpayer_id,tax_period,tax_type,amount,paid_date\n"
    write(landing, "tax_payment", PERIOD, header + "\n".join(tax_lines(1000)) + "\n")
    with connect() as conn:
        load_delivery(conn, Delivery("tax_payment", PERIOD), landing)
    before = fetch("select count(*), sum(amount) from raw.tax_payment")

    # A redelivery big enough that its COPY is still running when we look (~600k rows).
    big = tax_lines(600_000)
    write(landing, "tax_payment", PERIOD, header + "\n".join(big) + "\n")
    script = tmp_path / "load.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, str(script), WarehouseResource().url(), str(landing), PERIOD], env=env, start_new_session=True
    )
    deadline = time.monotonic() + 120
    copying = []
    while time.monotonic() < deadline and not copying and proc.poll() is None:
        copying = fetch("select tuples_processed from pg_stat_progress_copy where tuples_processed > 0")
        time.sleep(0.02)
    assert copying, "the load finished or failed before its COPY could be observed"
    os.killpg(proc.pid, signal.SIGKILL)  # the loader, mid-COPY
    proc.wait()

    for _ in range(100):  # the server notices the dead client and rolls its transaction back
        if not fetch("select 1 from pg_stat_activity where query ilike 'copy raw.tax_payment%%'"):
            break
        time.sleep(0.1)
    assert fetch("select count(*), sum(amount) from raw.tax_payment") == before
    assert fetch("select count(*) from audit.load_log") == [(1,)]

    with connect() as conn:
        rerun = load_delivery(conn, Delivery("tax_payment", PERIOD), landing)
    assert rerun.loaded == len(big)
    assert fetch("select count(*) from raw.tax_payment") == [(len(big),)]
