"""The arrival sensor's decisions (and `laiou run`'s, which are the same): load on manifest, never before."""

import os
import time

import dagster as dg
import psycopg

from laiou_assets.codes import uscc_check_char
from laiou_assets.defs.feeds.sensors import landing_zone_arrivals
from laiou_assets.ingest.landing import Delivery
from laiou_assets.ingest.loader import load_delivery
from laiou_assets.resources import LandingZoneResource, WarehouseResource
from tests.deliveries import write

TAX = "voucher_no,taxpayer_id,tax_period,tax_type,amount,paid_date\nV1,{u},201810,10101,{amount},2018-10-02\n"


def evaluate(landing):
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={"landing": LandingZoneResource(path=str(landing)), "warehouse": WarehouseResource()},
    )
    return landing_zone_arrivals(context)


def requests(result) -> list[tuple[str, list[str], str]]:
    if isinstance(result, dg.SkipReason):
        return []
    return [(r.partition_key, [k.path[-1] for k in r.asset_selection], r.run_key) for r in result]


def tax_text(amount: str) -> str:
    first = "91310115000000001"
    return TAX.format(u=first + uscc_check_char(first), amount=amount)


def test_sensor_requests_a_month_when_its_manifest_appears_and_again_when_redelivered(laiou_env):
    landing = laiou_env["landing"]
    folder = write(landing, "tax_payment", "201810", tax_text("1.00"))
    manifest = folder / "tax_payment_201810.manifest.json"
    kept = manifest.read_bytes()
    manifest.unlink()  # the CSV has landed, its manifest not yet: incomplete
    assert isinstance(evaluate(landing), dg.SkipReason)

    manifest.write_bytes(kept)
    first = requests(evaluate(landing))
    assert [(p, feeds) for p, feeds, _ in first] == [("2018-10-01", ["tax_payment"])]
    assert requests(evaluate(landing)) == first  # same manifests, same run key: Dagster dedupes

    with psycopg.connect(WarehouseResource().url(), autocommit=True) as conn:
        load_delivery(conn, Delivery("tax_payment", "201810"), landing)
    assert isinstance(evaluate(landing), dg.SkipReason)  # loaded since it arrived: nothing to do

    time.sleep(0.01)
    write(landing, "tax_payment", "201810", tax_text("2.00"))  # a correction: a new manifest
    os.utime(manifest, (time.time() + 1, time.time() + 1))  # later than the load, whatever the clock's grain
    again = requests(evaluate(landing))
    assert [(p, feeds) for p, feeds, _ in again] == [("2018-10-01", ["tax_payment"])]
    assert again[0][2] != first[0][2]
