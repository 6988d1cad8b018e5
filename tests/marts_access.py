"""Helpers of tests/test_access.py: an enterprise with a hostile name, connections as a role, and the
watch that polls for foreign rows while dbt rebuilds the protected marts."""

import os
from pathlib import Path

import psycopg

from laiou_assets import settings, warehouse
from laiou_assets.access import district_role
from tests.deliveries import delivered_rows, rewrite

HOSTILE = 'x\'); drop table marts.dim_enterprise; --\t"引号", 逗号'


def give_an_enterprise_a_hostile_name(landing) -> None:
    """The first enterprise of the 2018-12 delivery gets a name that looks like SQL, with quotes and commas."""
    rows, encoding = delivered_rows(landing, "saic_enterprise", "201812")
    rows[1][rows[0].index("name")] = HOSTILE
    rewrite(landing, "saic_enterprise", "201812", rows, encoding)


def hostile_uscc(url: str) -> str:
    return fetch(url, "select uscc from raw.saic_enterprise where _period = '2018-12-01' and _line = 2")[0][0]


def as_role(url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(warehouse.with_user(url, role), autocommit=True)


def fetch(url: str, sql: str, role: str | None = None, params=None):
    with as_role(url, role) if role else psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


PROTECTED = ("dim_enterprise", "fct_tax_monthly", "fct_stats_monthly")


class ForeignRowWatch:
    """Polls as one district role, the way a BI tool would, and counts the foreign rows it ever saw."""

    def __init__(self, url: str):
        counts = dict(fetch(url, "select district_code, count(*) from marts.dim_enterprise group by 1"))
        self.district = max(counts, key=counts.get)
        self.own = [
            r[0] for r in fetch(url, f"select uscc from marts.dim_enterprise where district_code = '{self.district}'")
        ]
        self.conn = as_role(url, district_role(self.district))
        self.conn.execute("set lock_timeout = '100ms'")  # a table being swapped is waited for briefly, not stalled on
        self.polls, self.answered, self.foreign = 0, 0, []

    def poll(self) -> None:
        self.polls += 1
        try:
            seen = self.conn.execute(
                """select (select count(*) from marts.dim_enterprise where district_code <> %(d)s),
                          (select count(*) from marts.fct_tax_monthly where uscc <> all(%(own)s)),
                          (select count(*) from marts.fct_stats_monthly where uscc <> all(%(own)s))""",
                {"d": self.district, "own": self.own},
            ).fetchone()
        except psycopg.errors.LockNotAvailable:
            return  # the build holds the table: nothing read
        except (psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege):
            return  # between two tables, or before the grant: nothing read either
        self.answered += 1
        if any(seen):
            self.foreign.append(dict(zip(PROTECTED, seen, strict=True)))


def dbt_command(url: str, tmp_path: Path, *args: str) -> tuple[list[str], dict]:
    from laiou_assets.defs.dbt.project import dbt_executable

    env = {**os.environ, **warehouse.dbt_env(url), "DBT_PROFILES_DIR": str(settings.DBT_PROJECT_DIR)}
    argv = [dbt_executable(), *args, "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    return argv, env


def builder_busy(url: str) -> bool:
    """Another session (the build) still has a transaction open on the database."""
    return bool(
        fetch(
            url,
            "select 1 from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() "
            "and xact_start is not null and usename <> all(array(select rolname from pg_roles where rolname like "
            "'laiou\\_%'))",
        )
    )


def being_created(url: str, model: str) -> bool:
    """The build's transaction holds the model's new table (dbt's `<model>__dbt_tmp`), not yet committed."""
    return bool(
        fetch(
            url,
            "select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname like %s "
            "and l.pid <> pg_backend_pid() and l.granted and l.mode = 'AccessExclusiveLock'",
            params=[f"{model}%"],
        )
    )


def table_oid(url: str, name: str) -> int | None:
    return fetch(url, f"select to_regclass('marts.{name}')::oid")[0][0]
