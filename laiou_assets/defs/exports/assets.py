"""区县数据包 / the districts' monthly Excel packages, an asset downstream of the marts."""

import dagster as dg

from laiou_assets import settings
from laiou_assets.defs.automation.conditions import BUILD_LATEST_MONTH_WHEN_UPDATED
from laiou_assets.exports.district_packages import PackagesIncomplete, month_folder, write_district_packages
from laiou_assets.keys import DIM_ENTERPRISE, DIM_REGION, DISTRICT_PACKAGES, STATS_FACTS, TAX_FACTS
from laiou_assets.partitions import monthly_partitions
from laiou_assets.resources import WarehouseResource

MARTS_READ = [DIM_ENTERPRISE, DIM_REGION, TAX_FACTS, STATS_FACTS]


@dg.asset(
    key=DISTRICT_PACKAGES,
    deps=MARTS_READ,
    partitions_def=monthly_partitions,
    group_name="exports",
    kinds={"excel"},
    automation_condition=BUILD_LATEST_MONTH_WHEN_UPDATED,
    description=(
        "区县数据包 / one Excel workbook per current district for the month, under "
        "`$LAIOU_HOME/exports/<YYYYMM>/`: the district's 来沪 enterprises, its tax (year to date) and statistics "
        "by source province and by industry section, with charts. Figures read from the marts; the latest "
        "month's are rewritten by the automation whenever the marts are rebuilt."
    ),
)
def district_packages(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    month = context.partition_time_window.start.date()
    exports = settings.laiou_home() / "exports"
    folder = month_folder(exports, month)
    try:
        with warehouse.connect() as conn:
            paths = write_district_packages(conn, month, exports)
    except PackagesIncomplete as incomplete:
        # Every other district got its file; the asset still fails, naming the ones that did not.
        for district, why in incomplete.failed.items():
            context.log.error(f"district {district}: package not written: {why}")
        raise dg.Failure(
            description=f"district packages not written for {', '.join(incomplete.failed)} "
            f"({len(incomplete.written)} written under {folder})",
            metadata={
                "workbooks": len(incomplete.written),
                "failed_districts": ", ".join(sorted(incomplete.failed)),
                "failures": dg.MetadataValue.json(incomplete.failed),
                "directory": dg.MetadataValue.text(settings.shown(folder)),
            },
        ) from incomplete
    context.log.info(f"wrote {len(paths)} district packages under {folder}")
    return dg.MaterializeResult(
        metadata={"workbooks": len(paths), "directory": dg.MetadataValue.text(settings.shown(folder))}
    )


export_district_packages_job = dg.define_asset_job(
    name="export_district_packages",
    selection=[district_packages.key],
    description="区县数据包 / write the districts' Excel packages for a month.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[district_packages], jobs=[export_district_packages_job])
