"""使用量 / how much the marts are used: statements run by the reading roles, per role and month (issue #7).

PostgreSQL counts every statement per role and database in pg_stat_statements (the embedded server loads
it; an external server needs `shared_preload_libraries = 'pg_stat_statements'`). The counts are cumulative,
so each snapshot stores them in `audit.usage_snapshot` and a month's use is the growth between the last
snapshot before it and the last one in it (a counter that went down was reset: its new value is the use).
The reading roles can read nothing but the marts, so their statements are uses of the marts. The 2018
baseline is 450 opens of the old system in the whole year.
"""

import psycopg

from laiou_assets import migrations
from laiou_assets.access import BI_ROLE, DISTRICT_PREFIX

BASELINE_2018_OPENS_PER_YEAR = 450


COUNTS_SQL = """
select r.rolname, coalesce(sum(s.calls), 0)::bigint
from pg_roles r
left join pg_stat_statements s
  on s.userid = r.oid and s.dbid = (select oid from pg_database where datname = current_database())
where r.rolname = %(bi)s or r.rolname like %(districts)s
group by r.rolname
order by r.rolname
"""


class UsageUnavailable(Exception):
    """pg_stat_statements is not loaded on this server."""


def take_snapshot(conn: psycopg.Connection) -> dict[str, int]:
    """Store the cumulative statements of each reading role now; returns them."""
    migrations.ensure_current(conn)
    with conn.transaction():
        try:
            with conn.transaction():
                conn.execute("create extension if not exists pg_stat_statements")
                counts = dict(
                    conn.execute(COUNTS_SQL, {"bi": BI_ROLE, "districts": DISTRICT_PREFIX.replace("_", "\\_") + "%"})
                )
        except psycopg.Error as exc:
            raise UsageUnavailable(
                "usage is not measured: pg_stat_statements is not available on this server "
                f"(add it to shared_preload_libraries): {exc}"
            ) from exc
        with conn.cursor() as cur:
            cur.executemany("insert into audit.usage_snapshot (role, statements) values (%s, %s)", list(counts.items()))
    return counts


def monthly_usage(conn: psycopg.Connection) -> list[tuple]:
    """(month, role, statements) of every month with snapshots."""
    return conn.execute("select month, role, statements from audit.mart_usage_monthly order by month, role").fetchall()
