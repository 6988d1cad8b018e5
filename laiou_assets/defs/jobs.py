"""Jobs the data team starts from the UI and `laiou run` executes: ingest a month, then build the marts."""

import dagster as dg

from laiou_assets.keys import FIGURE_REVISIONS, PUBLISHED_FIGURES, TAX_FACTS

ingest_feeds_job = dg.define_asset_job(
    name="ingest_feeds",
    selection=dg.AssetSelection.groups("raw_feeds"),
    description="装载 / load a month's deliveries of every feed into raw.* and reconcile them with their manifests.",
)


build_marts_job = dg.define_asset_job(
    name="build_marts",
    selection=dg.AssetSelection.groups("reference", "staging", "intermediate", "marts")
    - dg.AssetSelection.assets(TAX_FACTS),
    description="构建集市 / build and test the dbt models (staging → intermediate → marts) but the monthly tax facts.",
)

refresh_tax_facts_job = dg.define_asset_job(
    name="refresh_tax_facts",
    selection=dg.AssetSelection.assets(TAX_FACTS),
    description="税收事实 / rebuild marts.fct_tax_monthly for a tax month, or a range of months in one run (R12).",
)

publish_figures_job = dg.define_asset_job(
    name="publish_figures",
    selection=dg.AssetSelection.assets(PUBLISHED_FIGURES, FIGURE_REVISIONS),
    description=(
        "发布 / freeze a year's figures as published (marts.published_figures; `laiou publish --year YYYY` gives "
        "the year as the run's config) and compare every figure with it (marts.figure_revisions)."
    ),
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[ingest_feeds_job, build_marts_job, refresh_tax_facts_job, publish_figures_job])
