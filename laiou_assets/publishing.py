"""发布 `laiou publish --year YYYY`: freeze a year's summary, province, district and industry figures as
published (marts.published_figures, a dbt model that only appends) through the Dagster job publish_figures;
every later build compares them with the marts (marts.figure_revisions)."""

from __future__ import annotations

import sys

import dagster as dg

from laiou_assets import building, health, warehouse
from laiou_assets.definitions import defs
from laiou_assets.running import in_process_tags


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def publish(year: int) -> int:
    """0 when the year's figures were published; 2 with one line when there is nothing right to publish."""
    warehouse.ensure_dagster_instance()
    instance = dg.DagsterInstance.get()
    with warehouse.connect(warehouse.database_url(start=True)) as conn:
        years = []
        if health.table_exists(conn, "marts.mart_laiou_summary_year"):
            years = [y for (y,) in conn.execute("select year from marts.mart_laiou_summary_year order by year")]
    if year not in years:
        held = f"the marts hold {years[0]}–{years[-1]}" if years else "the marts are not built (`laiou run`)"
        _say(f"laiou publish: {year} has no figures to publish; {held}")
        return 2
    current, _, loaded_at = building.marts_current(instance)
    if not current:
        since = f" ({loaded_at:%Y-%m-%d %H:%M} UTC)" if loaded_at else ""
        _say(
            f"laiou publish: the marts are older than the last load{since}: run `laiou run` first, so that what "
            "is published is what was delivered"
        )
        return 2
    config = {"ops": {"laiou_dbt_models": {"config": {"publish_year": year}}}}
    tags = in_process_tags()
    ok = building.execute(defs(), instance, "publish_figures", {"run_config": config, "tags": tags}, _say)
    if not ok:
        return 1
    with warehouse.connect() as conn:
        publication, figures, deliveries = conn.execute(
            """select publication_id, count(*), max(jsonb_array_length(built_from)) from marts.published_figures
               where year = %s group by publication_id, published_at order by published_at desc limit 1""",
            [year],
        ).fetchone()
        earlier = conn.execute(
            "select count(distinct publication_id) - 1 from marts.published_figures where year = %s", [year]
        ).fetchone()[0]
    _say(
        f"published {year}: {figures} figures (publication {publication[:8]}, built from {deliveries} deliveries) "
        f"in marts.published_figures" + (f"; {earlier} earlier publication(s) of {year} kept" if earlier else "")
    )
    return 0
