"""Who may read the marts (warehouse.md, Access): the BI role and one role per current district.

The roles are created here, before dbt runs, because dbt's `grants` config grants to roles that must
already exist. The grants themselves come from dbt (dbt_project.yml) and the row-level security from the
post-hook `protect_enterprise_rows` of each enterprise-level mart, in the transaction that builds it
(dbt_project/macros/access.sql), so it fails closed.
"""

import csv
from pathlib import Path

import psycopg
from psycopg import sql

from laiou_assets import settings, warehouse

BI_ROLE = "laiou_bi"
DISTRICTS_GROUP = "laiou_districts"  # NOLOGIN: every district role is a member; grants go to it
DISTRICT_PREFIX = "laiou_district_"
DISTRICT_SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "ref_districts.csv"
_ROLE_LOCK = 31_0001  # advisory lock: CREATE ROLE has no IF NOT EXISTS


def current_districts() -> list[str]:
    """Codes of Shanghai's current districts (R2 reference seed)."""
    with DISTRICT_SEED.open(encoding="utf-8") as f:
        return sorted(row["district_code"] for row in csv.DictReader(f) if row["is_current"] == "true")


def district_role(code: str) -> str:
    return f"{DISTRICT_PREFIX}{code}"


def ensure_roles(conn: psycopg.Connection) -> list[str]:
    """Create the access roles that do not exist yet; returns the names created. `laiou_bi` gets the
    password in LAIOU_BI_PASSWORD when set. On a server whose URL names laiou's passfile (the embedded one,
    which asks every role for a password), each login role without a password there gets one."""
    wanted = [(BI_ROLE, True, None), (DISTRICTS_GROUP, False, None)]
    wanted += [(district_role(c), True, DISTRICTS_GROUP) for c in current_districts()]
    created = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [_ROLE_LOCK])
        existing = {r[0] for r in conn.execute("select rolname from pg_roles where rolname like 'laiou\\_%'")}
        for name, login, member_of in wanted:
            if name in existing:
                continue
            statement = sql.SQL("create role {} {}").format(
                sql.Identifier(name), sql.SQL("login" if login else "nologin")
            )
            if member_of:
                statement += sql.SQL(" in role {}").format(sql.Identifier(member_of))
            conn.execute(statement)
            created.append(name)
        passfile = warehouse.passfile_of(conn.info.dsn)
        if passfile and not warehouse.is_embedded_passfile(passfile):
            passfile = None  # an operator's own password file: never written to, no password changed
        for name, login, _ in wanted:
            if login and passfile and (name in created or not warehouse.has_password(passfile, name)):
                _set_password(conn, name, warehouse.role_password(passfile, name))
        password = settings.current().bi_password
        if password:
            _set_password(conn, BI_ROLE, password)
        limits = {
            "idle_in_transaction_session_timeout": settings.reader_idle_timeout(),
            "statement_timeout": settings.reader_statement_timeout(),
        }
        # A superuser may set any role's settings; a CREATEROLE builder (an external server, PostgreSQL 16+)
        # only those of the roles it created.
        superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]
        for name, login, _ in wanted:
            if not (superuser or name in created):
                continue
            for setting, value in limits.items() if login else ():  # role settings apply at each login
                conn.execute(
                    sql.SQL("alter role {} set {} = {}").format(
                        sql.Identifier(name), sql.Identifier(setting), sql.Literal(value)
                    )
                )
    return created


def _set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(password)))
