"""When the models build (自动构建): the dependency graph decides, through Dagster's declarative automation.

A model (and each month of the tax facts) is requested when something it reads was updated since it was
last requested or built, when its SQL changed (an upgrade), or when it was never built; not while what it
reads is being built; and never while a feed month has failed: its latest load run failed (a delivery that
did not load) or one of its blocking (ERROR) checks failed. The marts then keep their last good state; a
good redelivery clears the failure and the build follows by itself.
"""

import dagster as dg

from laiou_assets.contract import FEEDS
from laiou_assets.keys import raw_asset_key

AC = dg.AutomationCondition


def _feed_failed(feed: str) -> dg.AutomationCondition:
    failed = AC.execution_failed() | AC.any_checks_match(AC.check_failed(), blocking_only=True)
    return AC.asset_matches(raw_asset_key(feed), failed)


def _any(conditions: list[dg.AutomationCondition]) -> dg.AutomationCondition:
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined | condition
    return combined


# Any month of any feed, not only the model's own dependencies: a model that does not read the tax feed
# still must not move ahead of the marts that do.
A_FEED_MONTH_FAILED = _any([_feed_failed(feed) for feed in FEEDS]).with_label(
    "a feed month failed (did not load, or an ERROR check)"
)

# Loads first: no model builds while a feed month is being loaded (its runs queue behind the loads).
A_FEED_IS_LOADING = _any([AC.asset_matches(raw_asset_key(feed), AC.in_progress()) for feed in FEEDS])

# A model's code version is dbt's checksum of its SQL: an upgrade of laiou that changes a model rebuilds it
# (and, through any_deps_updated, what reads it) without anyone asking.
BUILD_WHEN_UPDATED = (
    (AC.newly_missing() | AC.any_deps_updated() | AC.code_version_changed()).since(
        AC.newly_requested() | AC.newly_updated()
    )
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & ~A_FEED_IS_LOADING
    & ~A_FEED_MONTH_FAILED
).with_label("build when what it reads was updated, never while a feed month has failed")

# 区县数据包: the packages of the latest month follow the marts they read, as the models follow the feeds
# (in production the latest month is the one whose deliveries are due now, so each build of that month's
# data rewrites its packages); never while a feed month has failed or loads.
BUILD_LATEST_MONTH_WHEN_UPDATED = (
    AC.in_latest_time_window()
    & AC.any_deps_updated().since(AC.newly_requested() | AC.newly_updated())
    & ~AC.any_deps_in_progress()
    & ~AC.any_deps_match(AC.will_be_requested())  # after the tax months requested in the same tick
    & ~AC.in_progress()
    & ~A_FEED_IS_LOADING
    & ~A_FEED_MONTH_FAILED
).with_label("write the latest month's packages when the marts they read were rebuilt")

# A month of the tax facts builds only after the models it reads were rebuilt (which happens only once
# every feed is loaded and none has failed), not when it is merely missing: it reads the enterprises'
# classification and the resolved vouchers, and a tax month built from them while a load runs would not
# add up with the staged vouchers (dbt's test tax_conserved_in_facts). Requested in the same tick as
# those models, its run (a backfill) could start first: it waits for the next tick.
BUILD_TAX_MONTH_WHEN_UPDATED = (
    (AC.any_deps_updated() | AC.code_version_changed()).since(AC.newly_requested() | AC.newly_updated())
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & ~AC.any_deps_missing()
    & ~AC.any_deps_match(AC.will_be_requested())
).with_label("build the tax months after the models they read were rebuilt")
