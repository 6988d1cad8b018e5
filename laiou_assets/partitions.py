"""The one monthly partitioning shared by the raw feeds and the incremental dbt models.

A partition `YYYY-MM-01` is the delivery month `YYYYMM` of feeds.md. History starts in 2010-01, the
first month of the office's series.
"""

import dagster as dg

TIMEZONE = "Asia/Shanghai"  # the office's clock: every cron and every month boundary is Shanghai's

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date="2010-01-01", timezone=TIMEZONE)
