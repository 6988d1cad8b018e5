"""Asset keys and run tags that more than one layer names (definitions, checks, the command line), in one
place so that a rename cannot leave one of them behind."""

import dagster as dg


def raw_asset_key(feed: str) -> dg.AssetKey:
    """The raw table of a feed (raw.<feed>), one monthly partition per delivery month."""
    return dg.AssetKey(["raw", feed])


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


TAX_FACTS = mart_key("fct_tax_monthly")  # the one monthly-partitioned dbt model (R12)
SUMMARY_MART = mart_key("mart_laiou_summary_year")
PUBLISHED_FIGURES = mart_key("published_figures")
FIGURE_REVISIONS = mart_key("figure_revisions")
DIM_ENTERPRISE = mart_key("dim_enterprise")
DIM_REGION = mart_key("dim_region")
STATS_FACTS = mart_key("fct_stats_monthly")
BACKUP = dg.AssetKey(["operations", "warehouse_backup"])
DISTRICT_PACKAGES = dg.AssetKey(["exports", "district_packages"])
LOAD_LOG = dg.AssetKey(["audit", "load_log"])
QUARANTINE = dg.AssetKey(["audit", "quarantine"])
INCIDENTS = dg.AssetKey(["audit", "incident"])
MONTHLY_REPORT = dg.AssetKey(["reports", "monthly_inspection_report"])

# Dagster's own run tags: a run's partition, and a range of partitions in one run (a single-run backfill).
PARTITION_TAG = "dagster/partition"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

# laiou's run tags.
KIND_TAG = "laiou/kind"  # load | build: what a run does, for the UI's filters
TRIGGER_TAG = "laiou/trigger"  # arrival: a run the arrival sensor asked for
FEEDS_TAG = "laiou/feeds"  # the feeds a load run loads, comma-separated
ARRIVAL_TAG = "laiou/arrival"  # the deliveries a load run was asked for (a digest of their manifests)
# Dagster's hidden tag naming a run's code location, which the UI's job pages and timeline filter on. Runs the
# daemon launches carry it; laiou's in-process runs (laiou run, demo) set it so that the UI lists them too.
REPOSITORY_TAG = ".dagster/repository"
REPOSITORY_LABEL = "__repository__@laiou"  # the Definitions' repository @ the location (workspace.yaml)
PROCESS_TAG = "laiou/process"  # host:pid:start of the process running it in-process, to tell when it is gone
