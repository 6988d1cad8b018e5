"""到货监测 / arrival sensor: a run for a month when a manifest appears or changes, and never before."""

import hashlib

import dagster as dg

from laiou_assets import settings
from laiou_assets.ingest import arrivals
from laiou_assets.ingest.loader import record_dead_attempts
from laiou_assets.keys import ARRIVAL_TAG, FEEDS_TAG, KIND_TAG, TRIGGER_TAG, raw_asset_key
from laiou_assets.resources import LandingZoneResource, WarehouseResource

MAX_LOST_RUNS = 3
ENDED_BADLY = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    name="landing_zone_arrivals",
    job_name="ingest_feeds",
    minimum_interval_seconds=settings.sensor_interval("arrival"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "到货监测 / watches the landing zone: requests a load of a month when a feed's manifest appears "
        "(a CSV alone is an incomplete delivery: it waits) and again when a month is redelivered (a manifest "
        "with other bytes). Months loaded, or failed and not redelivered since, are left alone (audit.load_log); "
        "a load that was killed is tried once more. Folders that are not months of the partitions are named "
        "in a warning and skipped."
    ),
)
def landing_zone_arrivals(
    context: dg.SensorEvaluationContext, landing: LandingZoneResource, warehouse: WarehouseResource
):
    root = landing.root()
    with warehouse.connect() as conn:
        for line in record_dead_attempts(conn):  # loads killed since the last tick: logged, then retried
            context.log.warning(f"load attempt died: {line}")
        todo = arrivals.find_pending(root, conn)
    for warning in todo.warnings:
        context.log.warning(warning)
    # One round of loads at a time: while one is queued or running, its deliveries are not attempted yet,
    # and asking again would load them twice.
    unfinished = context.instance.get_runs(filters=dg.RunsFilter(job_name="ingest_feeds", statuses=UNFINISHED))
    if unfinished:
        return dg.SkipReason(f"loads under way (run {unfinished[0].run_id[:8]} and {len(unfinished) - 1} more)")
    if not todo.deliveries:
        return dg.SkipReason(
            f"nothing new in {root}: every complete delivery has been loaded since it arrived"
            + "".join(f"; {w}" for w in todo.warnings)
        )
    requests, given_up = [], []
    for month, feeds in arrivals.by_month(todo.deliveries).items():
        arrived = [d for d in todo.deliveries if d.partition_key == month]
        # The same manifests (and tries) give the same key, so Dagster never queues them twice.
        manifests = ",".join(f"{d.feed}@{todo.identities[d][-12:]}#{todo.tries[d]}" for d in arrived)
        key = hashlib.sha256(f"{month[:7]}:{manifests}".encode()).hexdigest()[:24]
        # A run that ended before its loads began (its launch killed with the daemon, its process lost) logs
        # no attempt: the same key would be deduplicated forever. Such runs count, and give a new key.
        lost = len(context.instance.get_runs(filters=dg.RunsFilter(tags={ARRIVAL_TAG: key}, statuses=ENDED_BADLY)))
        if lost >= MAX_LOST_RUNS:
            given_up.append(month[:7])
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{month[:7]}:{manifests}" + (f"~{lost}" if lost else ""),
                partition_key=month,
                asset_selection=[raw_asset_key(f) for f in feeds],
                tags={
                    TRIGGER_TAG: "arrival",
                    FEEDS_TAG: ",".join(feeds),
                    KIND_TAG: "load",
                    ARRIVAL_TAG: key,
                },
            )
        )
    for month in given_up:
        context.log.error(
            f"{month}: {MAX_LOST_RUNS} load runs ended before loading anything (see their logs in the UI); "
            "not requested again until the month is redelivered or loaded by hand (`laiou run`)"
        )
    if not requests:
        return dg.SkipReason(f"months whose load runs keep ending before loading: {', '.join(given_up)}")
    context.log.info(f"requesting {len(requests)} month(s): {', '.join(r.partition_key[:7] for r in requests)}")
    return requests


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[landing_zone_arrivals])
