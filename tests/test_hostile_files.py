"""Fail closed, one hostile file at a time (#19): odd folders, line ends, long fields, hostile manifests,
links, devices and pipes. Each bad thing is named and skipped; everything else loads."""

import json
import os
from pathlib import Path

import pytest

from laiou_assets.contract import FEEDS
from laiou_assets.ingest import reading, records
from laiou_assets.ingest.landing import Delivery, FileFault, manifest_identity, read_manifest, scan
from laiou_assets.partitions import monthly_partitions
from laiou_assets.running import run_everything
from tests.deliveries import write, write_bytes
from tests.hostile import (
    ENTERPRISE_HEADER,
    GOOD_LINES,
    PERIOD,
    TAX,
    TAX_HEADER,
    enterprise_line,
    evaluate_sensor,
    expected_manifest,
    fetch,
    force_record_path,
    last_log,
    load,
    tax_line,
)

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
