"""Monthly partitions of the raw tables (the tables themselves are made by laiou_assets/migrations)."""

from __future__ import annotations

from datetime import date

import psycopg


def ensure_partition(conn: psycopg.Connection, feed_name: str, period: date) -> str:
    """The month's partition of raw.<feed> (created, empty, in its own short transaction if new).

    A month lives in its own partition so that a redelivery replaces it with TRUNCATE + COPY, and COPY
    writes no index. Creating a partition locks the whole table, so it is not done inside a long load.
    """
    name = f"raw.{feed_name}_{period:%Y%m}"
    upper = date(period.year + period.month // 12, period.month % 12 + 1, 1)
    with conn.transaction():
        if conn.execute("select to_regclass(%s)", [name]).fetchone()[0] is None:
            conn.execute(
                f"create table {name} partition of raw.{feed_name} "
                f"for values from ('{period.isoformat()}') to ('{upper.isoformat()}')"
            )
            # COPY into the partition leaves out _period: a constant, not a date to parse on every row.
            conn.execute(f"alter table {name} alter column _period set default '{period.isoformat()}'")
    return name
