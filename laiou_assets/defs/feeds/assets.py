"""One software-defined asset per raw feed (feeds.md), partitioned by delivery month."""

import dagster as dg
import psycopg

from laiou_assets.contract import FEEDS, Feed
from laiou_assets.defs.automation.freshness import FEED_DELIVERED_BY_THE_20TH
from laiou_assets.ingest.landing import Delivery, FileFault, Waiting, period_of_partition
from laiou_assets.ingest.loader import load_delivery
from laiou_assets.keys import LOAD_LOG, QUARANTINE, raw_asset_key
from laiou_assets.partitions import monthly_partitions
from laiou_assets.resources import LandingZoneResource, WarehouseResource


def build_feed_asset(feed: Feed) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_asset_key(feed.name),
        partitions_def=monthly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="raw_feeds",
        kinds={"postgres", "csv"},
        description=(
            f"{feed.label} — {feed.source}. Each month's delivery is verified against its manifest "
            f"(rows, sha256, control total of {feed.control_column}), bad rows are quarantined with a reason "
            f"(audit.quarantine), and the month's rows in raw.{feed.name} are replaced in one transaction."
        ),
        metadata={"table": f"raw.{feed.name}", "contract": "feeds.md"},
        output_required=False,  # a month without its manifest yet is left alone: nothing materialized
        # A lost connection, a deadlock or a lock timeout passes: the step is tried again (each month's load
        # replaces its rows, so trying again is safe). A fault of the delivery is not retried.
        freshness_policy=FEED_DELIVERED_BY_THE_20TH,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL),
    )
    def _load(context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingZoneResource):
        loaded, failed, waiting, totals = [], [], [], {"rows": 0, "loaded": 0, "quarantined": 0}
        transient = False
        for key in context.partition_keys:
            delivery = Delivery(feed.name, period_of_partition(key))
            try:
                # A connection per month: one lost or broken by a month's failure stops no other month.
                with warehouse.connect() as conn:
                    r = load_delivery(conn, delivery, landing.root(), progress=context.log.debug)
            except Waiting as wait:
                context.log.warning(str(wait))
                waiting.append(delivery.period)
                continue
            except FileFault as fault:
                context.log.error(f"{feed.name} {delivery.period} failed: {fault}")
                failed.append(f"{delivery.period}: {fault}")
                continue
            except Exception as exc:  # logged in audit.load_log by the loader; the other months still load
                message = " ".join(str(exc).split()) or type(exc).__name__
                context.log.error(f"{feed.name} {delivery.period} failed: {type(exc).__name__}: {message}")
                failed.append(f"{delivery.period}: {type(exc).__name__}: {message}")
                transient |= isinstance(exc, psycopg.OperationalError)
                continue
            context.log.info(
                f"{feed.name} {r.period}: {r.loaded:,} loaded, {r.quarantined:,} quarantined "
                f"{r.quarantined_by_reason or ''} in {r.seconds:.1f}s"
            )
            loaded.append(r.period)
            for k in totals:
                totals[k] += getattr(r, k)
        if failed:
            raise dg.Failure(
                description=f"{feed.name} {'; '.join(failed)} ({len(failed)} of {len(context.partition_keys)} "
                "month(s) failed to load; the loaded months are kept, the failed ones keep their earlier data)",
                metadata={"failed": "\n".join(failed), "loaded_months": ", ".join(loaded)},
                allow_retries=transient,
            )
        if loaded:
            yield dg.MaterializeResult(metadata={**totals, "months": len(loaded), "table": f"raw.{feed.name}"})
        if waiting:
            context.log.warning(f"{feed.name}: waiting for the manifest of {', '.join(waiting)}")

    return _load


# The load log is written by every feed load (and read by dbt's staging and the reports): named here so
# that it has a group and a description in the UI rather than standing alone in "default".
load_log = dg.AssetSpec(
    LOAD_LOG,
    group_name="operations",
    kinds={"postgres"},
    description=(
        "装载日志 / audit.load_log: one row per attempt to load a feed month, with its outcome, rows loaded and "
        "quarantined, the manifest's sha256 and why a failed attempt failed (file_fault, error, died)."
    ),
)

quarantine = dg.AssetSpec(
    QUARANTINE,
    group_name="operations",
    kinds={"postgres"},
    description=(
        "隔离行 / audit.quarantine: the rows a load set aside, each with its line, the line as delivered and a "
        "reason code of feeds.md (the mart ops_quarantine_by_reason counts them for 数据质量)."
    ),
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[*(build_feed_asset(feed) for feed in FEEDS.values()), load_log, quarantine])
