"""到货监测 / arrival sensor: a run for a month when a manifest appears or changes, and never before."""

import dagster as dg

from laiou_assets.defs.feeds.assets import raw_asset_key
from laiou_assets.ingest import arrivals
from laiou_assets.resources import LandingZoneResource, WarehouseResource


@dg.sensor(
    name="landing_zone_arrivals",
    job_name="ingest_feeds",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "到货监测 / watches the landing zone: requests a load of a month when a feed's manifest appears "
        "(a CSV alone is an incomplete delivery: it waits) and again when a month is redelivered (a new "
        "manifest). Months loaded, or failed and not redelivered since, are left alone (audit.load_log)."
    ),
)
def landing_zone_arrivals(
    context: dg.SensorEvaluationContext, landing: LandingZoneResource, warehouse: WarehouseResource
):
    root = landing.root()
    with warehouse.connect() as conn:
        todo = arrivals.pending(root, conn)
    if not todo:
        return dg.SkipReason(f"nothing new in {root}: every complete delivery has been loaded since it arrived")
    requests = []
    for month, feeds in arrivals.by_month(todo).items():
        written = max(arrivals.manifest_written(root, d) for d in todo if d.partition_key == month)
        requests.append(
            dg.RunRequest(
                # The same manifests give the same key, so Dagster never queues them twice.
                run_key=f"{month[:7]}:{','.join(feeds)}:{written.isoformat()}",
                partition_key=month,
                asset_selection=[raw_asset_key(f) for f in feeds],
                tags={"laiou/trigger": "arrival", "laiou/feeds": ",".join(feeds)},
            )
        )
    context.log.info(f"requesting {len(requests)} month(s): {', '.join(r.partition_key[:7] for r in requests)}")
    return requests


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[landing_zone_arrivals])
