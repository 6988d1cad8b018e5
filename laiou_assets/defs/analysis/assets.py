"""统计分析 as assets: the annual analysis report (yearly partitions) and the monthly bulletin (the feeds'
monthly partitions), Word and HTML under `$LAIOU_HOME/reports/analysis/`, made from the marts."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from laiou_assets import settings
from laiou_assets.analysis.documents import annual_document, bulletin_document, write
from laiou_assets.analysis.figures import NoData, annual, monthly
from laiou_assets.keys import FIGURE_REVISIONS, SUMMARY_MART, TAX_FACTS, mart_key
from laiou_assets.partitions import TIMEZONE, monthly_partitions
from laiou_assets.resources import WarehouseResource

yearly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start="2010", fmt="%Y", timezone=TIMEZONE
)
READS = [
    SUMMARY_MART,
    *(mart_key(f"mart_laiou_by_{split}_year") for split in ("province", "district", "industry", "investor")),
    mart_key("dim_enterprise"),
    TAX_FACTS,
    FIGURE_REVISIONS,
]


def analysis_folder(name: str):
    return settings.laiou_home() / "reports" / "analysis" / name


def _made() -> datetime:
    return datetime.now(ZoneInfo(TIMEZONE))


def _read(warehouse: WarehouseResource, read, period):
    """The figures of the year or month; a run for one the marts do not hold fails with one line."""
    with warehouse.connect() as conn:
        try:
            return read(conn, period)
        except NoData as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None


def _documents(docx, page, **figures) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={
            **figures,
            "docx": dg.MetadataValue.text(settings.shown(docx)),
            "html": dg.MetadataValue.text(settings.shown(page)),
        }
    )


@dg.asset(
    key=["reports", "annual_analysis_report"],
    partitions_def=yearly_partitions,
    deps=READS,
    group_name="analysis",
    description=(
        "统计分析报告 / the annual analysis report 《各地来沪投资企业统计分析报告（YYYY年）》 in Word and HTML: "
        "headline figures with year-on-year change, source provinces, districts, industries, tax concentration, "
        "revenue and employees, investors (R15) and revisions of published figures; "
        "`$LAIOU_HOME/reports/analysis/<YYYY>/`. `laiou report annual --year YYYY`."
    ),
)
def annual_analysis_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    year = int(context.partition_key)
    figures = _read(warehouse, annual, year)
    docx, page = write(annual_document(figures, _made()), analysis_folder(str(year)), f"annual_report_{year}")
    h = figures.headline
    return _documents(docx, page, cumulative=h["cumulative"], new=h["new"], tax_wan=float(h["tax_wan"]))


@dg.asset(
    key=["reports", "monthly_bulletin"],
    partitions_def=monthly_partitions,
    deps=READS,
    group_name="analysis",
    description=(
        "月度快报 / the monthly bulletin 《来沪投资企业月度快报》 in Word and HTML: the month's new 来沪 enterprises, "
        "the year-to-date tax and its change, source provinces and districts, revisions; "
        "`$LAIOU_HOME/reports/analysis/<YYYY-MM>/`. `laiou report monthly --month YYYY-MM`."
    ),
)
def monthly_bulletin(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    month = date.fromisoformat(context.partition_key)
    figures = _read(warehouse, monthly, month)
    docx, page = write(
        bulletin_document(figures, _made()), analysis_folder(f"{month:%Y-%m}"), f"bulletin_{month:%Y-%m}"
    )
    return _documents(docx, page, new=figures.new, tax_wan_ytd=figures.tax_wan_ytd)


annual_report_job = dg.define_asset_job(
    "annual_analysis_report",
    selection=[annual_analysis_report],
    description="统计分析报告 / write a year's annual analysis report (Word and HTML).",
)
monthly_bulletin_job = dg.define_asset_job(
    "monthly_bulletin",
    selection=[monthly_bulletin],
    description="月度快报 / write a month's bulletin (Word and HTML).",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[annual_analysis_report, monthly_bulletin], jobs=[annual_report_job, monthly_bulletin_job]
    )
