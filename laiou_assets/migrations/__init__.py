"""Numbered migrations of the schemas laiou owns, `raw` and `audit` (Alembic, versions/).

`ensure_current` is called where laiou first touches those schemas (a load, a build, the inspection layer):
one query when the warehouse is current, else the upgrade. `laiou db upgrade` runs it by hand. The
migrations are rendered as SQL by Alembic (offline mode) and run on laiou's own connection in one
transaction, under an advisory lock, so two processes never upgrade at once and a failed upgrade changes
nothing. The marts are dbt's, not migrated here.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
UPGRADE_LOCK = 31_0002  # advisory lock id (31_0000: partitions, 31_0001: the old ops DDL)


@cache
def _config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


@cache
def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current(conn: psycopg.Connection) -> str | None:
    """The warehouse's revision (None: never migrated, an empty database or one of an earlier laiou)."""
    if conn.execute("select to_regclass('audit.alembic_version')").fetchone()[0] is None:
        return None
    row = conn.execute("select version_num from audit.alembic_version").fetchone()
    return row[0] if row else None


def render(start: str | None) -> str:
    """The SQL that takes a warehouse from `start` to the head."""
    from alembic import command

    config = _config()
    buffer = io.StringIO()
    config.attributes["buffer"] = buffer
    command.upgrade(config, f"{start}:head" if start else "head", sql=True)
    return buffer.getvalue()


def upgrade(conn: psycopg.Connection) -> tuple[str | None, str]:
    """Bring the warehouse to the head revision; returns (from, to)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [UPGRADE_LOCK])
        start = current(conn)
        if start != head():
            conn.execute("create schema if not exists audit")  # where the version table lives
            conn.execute(render(start))
    return start, head()


def ensure_current(conn: psycopg.Connection) -> None:
    if current(conn) != head():
        upgrade(conn)
