"""Helpers of the fail-closed tests (test_hostile_files.py, test_hostile_attempts.py): tiny deliveries
written by hand, the loader and the arrival sensor run on them, and what the warehouse then holds."""

import re
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg

from laiou_assets.codes import uscc_check_char
from laiou_assets.defs.feeds.sensors import landing_zone_arrivals
from laiou_assets.ingest import columnar, reading
from laiou_assets.ingest.landing import Delivery
from laiou_assets.ingest.loader import load_delivery
from laiou_assets.resources import LandingZoneResource, WarehouseResource

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


GOOD_LINES = [tax_line(i) for i in range(5)]
