"""Raw feed assets against the real server: manifest verification, quarantine, atomic reload."""

from __future__ import annotations

import hashlib
import json
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from laiou_assets.contract import FEEDS
from laiou_assets.defs.feeds.assets import build_feed_asset
from laiou_assets.resources import LandingZoneResource, WarehouseResource
from ops_checks.feeds import feed_checks

MONTH = "2018-11-01"
PERIOD = "201811"


def materialize(feed: str, landing: Path, partition_key: str = MONTH) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_feed_asset(FEEDS[feed]), feed_checks(FEEDS[feed], names=("reconciles_with_manifest",))],
        partition_key=partition_key,
        resources={"warehouse": WarehouseResource(), "landing": LandingZoneResource(path=str(landing))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def copy_month(src: Path, dst: Path, feed: str, period: str = PERIOD) -> Path:
    target = dst / feed / period
    shutil.copytree(src / feed / period, target)
    return target


def rewrite(folder: Path, feed: str, text: str, control_total: str | None = None, rows: int | None = None) -> None:
    """Replace a delivery's CSV and write a manifest that matches it (unless told otherwise)."""
    data = text.encode("utf-8")
    csv_path = folder / f"{feed}_{folder.name}.csv"
    csv_path.write_bytes(data)
    manifest_path = folder / f"{feed}_{folder.name}.manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["rows"] = rows if rows is not None else len(text.splitlines()) - 1
    if control_total is not None:
        manifest["control_totals"][FEEDS[feed].control_column] = control_total
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def count(sql: str, *params):
    with psycopg.connect(WarehouseResource().url()) as conn:
        return conn.execute(sql, params).fetchone()[0]


def manifest_of(folder: Path, feed: str) -> dict:
    return json.loads((folder / f"{feed}_{folder.name}.manifest.json").read_text(encoding="utf-8"))


def test_a_month_loads_reconciles_and_reloads_to_the_same_rows(laiou_env, small_landing):
    landing = laiou_env["landing"]
    folder = copy_month(small_landing, landing, "tax_payment")
    expected_rows = manifest_of(folder, "tax_payment")["rows"]

    first = materialize("tax_payment", landing)
    assert first.success
    assert [e.passed for e in first.get_asset_check_evaluations()] == [True]
    assert count("select count(*) from raw.tax_payment where _period = %s", MONTH) == expected_rows

    second = materialize("tax_payment", landing)
    assert second.success
    assert count("select count(*) from raw.tax_payment") == expected_rows
    assert count("select count(*) from audit.load_log where outcome = 'loaded'") == 2
    total = count("select sum(amount) from raw.tax_payment")
    assert total == Decimal(manifest_of(folder, "tax_payment")["control_totals"]["amount"])


def test_row_faults_are_quarantined_with_the_first_reason_and_the_rest_loads(laiou_env, small_landing):
    landing = laiou_env["landing"]
    folder = copy_month(small_landing, landing, "tax_payment")
    csv_path = folder / f"tax_payment_{PERIOD}.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    header, good = lines[0], lines[1:]
    uscc = good[0].split(",")[1]
    bad = [
        f"V1,{uscc},201811,10101,10.00",  # field_count (5 fields)
        f"V2,{uscc},201811,10101,,2018-11-02",  # missing_field (amount) before bad_date
        f"V3,{uscc},201811,10101,x1,2018-11-31",  # bad_date (Nov 31) before bad_number
        f"V4,{uscc},201811,10101,1.234,2018-11-02",  # bad_number (three decimals)
        "V5,{b},201811,10101,5.00,2018-11-02".format(b=uscc[:17] + ("0" if uscc[17] != "0" else "1")),  # invalid_uscc
        f"V6,{uscc},201811,99999,6.00,2018-11-02",  # unknown_code (tax type)
        good[0],  # duplicate_key (voucher_no of the first good row)
    ]
    # Control total: every row with the right field count whose amount parses (feeds.md): the good rows,
    # V5, V6 and the duplicate of the first good row.
    counted = [*good, bad[4], bad[5], bad[6]]
    total = sum(Decimal(line.split(",")[4]) for line in counted)
    rewrite(folder, "tax_payment", "\n".join([header, *good, *bad]) + "\n", control_total=f"{total:.2f}")

    result = materialize("tax_payment", landing)
    assert result.success, result.all_events
    assert count("select count(*) from raw.tax_payment") == len(good)
    reasons = dict(
        psycopg.connect(WarehouseResource().url())
        .execute("select reason, count(*) from audit.quarantine group by reason")
        .fetchall()
    )
    assert reasons == {
        "field_count": 1,
        "missing_field": 1,
        "bad_date": 1,
        "bad_number": 1,
        "invalid_uscc": 1,
        "unknown_code": 1,
        "duplicate_key": 1,
    }
    assert count("select line_no from audit.quarantine where reason = 'duplicate_key'") == len(good) + len(bad) + 1
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]


@pytest.mark.parametrize(
    "fault, expected_message",
    [
        ("sha256", "does not match the manifest"),
        ("rows", "data rows, the manifest says"),
        ("control_total", "control total of amount"),
        ("unknown_column", "unknown column(s) in the header: extra"),
    ],
)
def test_file_faults_fail_the_month_and_keep_its_earlier_rows(laiou_env, small_landing, fault, expected_message):
    landing = laiou_env["landing"]
    folder = copy_month(small_landing, landing, "tax_payment")
    assert materialize("tax_payment", landing).success
    before = count("select count(*) from raw.tax_payment")
    csv_path = folder / f"tax_payment_{PERIOD}.csv"
    manifest_path = folder / f"tax_payment_{PERIOD}.manifest.json"
    text = csv_path.read_text(encoding="utf-8")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if fault == "sha256":
        manifest["sha256"] = "0" * 64
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    elif fault == "rows":
        rewrite(folder, "tax_payment", text, rows=manifest["rows"] + 1)
    elif fault == "control_total":
        rewrite(folder, "tax_payment", text, control_total="1.00")
    elif fault == "unknown_column":
        lines = text.splitlines()
        rewrite(folder, "tax_payment", "\n".join([lines[0] + ",extra"] + [ln + "," for ln in lines[1:]]) + "\n")

    result = materialize("tax_payment", landing)
    assert not result.success
    assert count("select count(*) from raw.tax_payment") == before
    message = count("select message from audit.load_log where outcome = 'failed' order by load_id desc limit 1")
    assert expected_message in message and f"tax_payment_{PERIOD}" in message
