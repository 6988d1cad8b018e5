"""How fresh the data must be (时效), the Dagster way: freshness policies the daemon evaluates and the UI shows.

feeds.md: each month's deliveries are due by the 20th of the next month. A feed is fresh when it was loaded
within the four weeks before the 21st, 00:00 Shanghai time; the marts when they were built within the four
weeks before the 22nd: a day after the deliveries are due.
"""

from datetime import timedelta

import dagster as dg

from laiou_assets.partitions import TIMEZONE

FEED_DELIVERED_BY_THE_20TH = dg.FreshnessPolicy.cron(
    deadline_cron="0 0 21 * *", lower_bound_delta=timedelta(days=28), timezone=TIMEZONE
)
MARTS_CURRENT_A_DAY_LATER = dg.FreshnessPolicy.cron(
    deadline_cron="0 0 22 * *", lower_bound_delta=timedelta(days=28), timezone=TIMEZONE
)
