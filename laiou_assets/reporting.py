"""`laiou report annual --year YYYY` and `laiou report monthly --month YYYY-MM`: the analysis report or the
bulletin, made through its Dagster asset (recorded in the instance, visible in the UI) from the marts."""

from __future__ import annotations

import sys
from datetime import date

import dagster as dg

from laiou_assets import building, warehouse
from laiou_assets.analysis import figures
from laiou_assets.definitions import defs
from laiou_assets.defs.analysis.assets import analysis_folder
from laiou_assets.running import in_process_tags


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def report(kind: str, period: str) -> int:
    """0 with the files named; 2 with one line when the marts hold no figures of that year or month."""
    warehouse.ensure_dagster_instance()
    instance = dg.DagsterInstance.get()
    with warehouse.connect(warehouse.database_url(start=True)) as conn:
        try:  # said here in one line, rather than as a failed run
            if kind == "annual":
                figures.annual(conn, int(period))
            else:
                figures.monthly(conn, date.fromisoformat(f"{period}-01"))
        except figures.NoData as exc:
            _say(f"laiou report {kind}: {exc}")
            return 2
    job, key = ("annual_analysis_report", period) if kind == "annual" else ("monthly_bulletin", f"{period}-01")
    tags = in_process_tags()
    if not building.execute(defs(), instance, job, {"partition_key": key, "tags": tags}, _say):
        return 1
    stem = f"annual_report_{period}" if kind == "annual" else f"bulletin_{period}"
    folder = analysis_folder(period)
    _say(f"written: {folder / (stem + '.docx')}\n         {folder / (stem + '.html')}")
    return 0
