"""The inspection layer 巡检: asset checks on the raw feeds and marts (the marts' conservation of tax is
dbt's: tests `tax_conserved_*`), incidents and alerts, monthly inspection
reports, backups, and the schedules that run them, exported as one Definitions."""

import dagster as dg

from ops_checks.access import access_check
from ops_checks.feeds import build_feed_checks
from ops_checks.incidents import incident_watch, incidents_table
from ops_checks.operations import ASSETS, JOBS, SCHEDULES, backup_restores


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        asset_checks=[
            *build_feed_checks(),
            access_check,
            backup_restores,
        ],
        assets=[*ASSETS, incidents_table],
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=[incident_watch],
    )
