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
from laiou_assets.warehouse import with_dbname

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


# Superset's own log of dashboard views (issue #16): its metadata database on the warehouse server.
SUPERSET_DB = "laiou_superset"  # laiou_assets/superset/launch.py makes it
READER_ROLES_ONLY = ("Gamma", "Alpha", "sql_lab", "Public")  # Superset's base roles: not who the reader is

# A view is the dashboard's page mounting in the browser (Superset's front end logs `mount_dashboard` once
# per open, a reload or an in-app navigation alike); each chart's own query is logged apart and not counted.
DASHBOARD_VIEWS_SQL = """
select to_char(l.dttm, 'YYYY-MM') as month,
       coalesce(readers.roles, '(none)') as role,
       d.dashboard_title,
       count(*)::bigint as views
from logs l
join dashboards d on d.id = l.dashboard_id
left join lateral (
  select string_agg(r.name, ', ' order by r.name) as roles
  from ab_user_role ur join ab_role r on r.id = ur.role_id
  where ur.user_id = l.user_id and r.name <> all(%(base_roles)s)
) readers on true
where l.action = 'log'
  and (case when l.action = 'log' then l.json::jsonb ->> 'event_name' end) = 'mount_dashboard'
group by 1, 2, 3
order by 1, 2, 3
"""


def dashboard_views(warehouse_url: str) -> list[tuple[str, str, str, int]] | None:
    """(month, the reader's roles, dashboard, views) from Superset's log; None where Superset was never set
    up on this server (`laiou bi serve` makes its database)."""
    try:
        conn = psycopg.connect(with_dbname(warehouse_url, SUPERSET_DB), connect_timeout=10)
    except psycopg.OperationalError:
        return None
    with conn:
        if conn.execute("select to_regclass('public.logs')").fetchone()[0] is None:
            return None
        return [tuple(r) for r in conn.execute(DASHBOARD_VIEWS_SQL, {"base_roles": list(READER_ROLES_ONLY)})]
