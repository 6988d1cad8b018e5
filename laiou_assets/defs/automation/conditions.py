"""When the models build (自动构建): the dependency graph decides, through Dagster's declarative automation.

A model (and each month of the tax facts) is requested when something it reads was updated since it was
last requested or built, or when it was never built; not while what it reads is being built; and never
while a feed month has failed: its latest load run failed (a delivery that did not load) or one of its
blocking (ERROR) checks failed. The marts then keep their last good state; a good redelivery clears the
failure and the build follows by itself.
"""

import dagster as dg

from laiou_assets.contract import FEEDS

AC = dg.AutomationCondition


def _feed_failed(feed: str) -> dg.AutomationCondition:
    failed = AC.execution_failed() | AC.any_checks_match(AC.check_failed(), blocking_only=True)
    return AC.asset_matches(dg.AssetKey(["raw", feed]), failed)


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

BUILD_WHEN_UPDATED = (
    (AC.newly_missing() | AC.any_deps_updated()).since(AC.newly_requested() | AC.newly_updated())
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & ~A_FEED_MONTH_FAILED
).with_label("build when what it reads was updated, never while a feed month has failed")

# A month of the tax facts also waits for the models it reads to exist (they are not partitioned, so their
# being missing is not hidden among the feeds' never-delivered months).
BUILD_TAX_MONTH_WHEN_UPDATED = (BUILD_WHEN_UPDATED & ~AC.any_deps_missing()).with_label(
    "build a tax month when what it reads was updated, once it exists, never while a feed month has failed"
)
