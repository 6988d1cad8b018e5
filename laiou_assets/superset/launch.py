"""laiou's side of Superset: where it is installed and keeps its state, the environment it runs in, and the
commands `laiou bi serve` and `laiou bi user`.

Superset's metadata (users, roles, dashboards, its log) lives in its own database, `laiou_superset`, on the
warehouse server. It reads the marts as `laiou_bi` (SELECT on `marts` only) and nothing else of the warehouse.
Every start upgrades its metadata, imports the dashboards bundle (replacing what changed, duplicating nothing)
and provisions the roles and row-level rules from code (app/provision.py).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from laiou_assets import codes, settings, warehouse
from laiou_assets.access import BI_ROLE
from laiou_assets.usage import SUPERSET_DB

BI_VENV = settings.PROJECT_ROOT / ".venv-bi"
HERE = Path(__file__).resolve().parent
CONFIG = HERE / "app" / "superset_config.py"
PROVISION = HERE / "app" / "provision.py"
BUNDLE = HERE / "dashboards"
METADATA_DB = SUPERSET_DB  # the usage figures read its log (laiou_assets/usage.py)
VERSION = "6.1.0"

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
# `laiou bi user --role`: what each kind of reader may see (warehouse.md, Access; issue #16).
ROLE_CHOICES = "admin | data | office | district:<code> | commission"


class BIError(Exception):
    """A problem the operator can fix, told in one line (no traceback)."""


def installed() -> bool:
    """`make bi` has installed Superset into .venv-bi."""
    return (BI_VENV / "bin" / "gunicorn").exists()


def executable(name: str) -> Path:
    path = BI_VENV / "bin" / name
    if not path.exists():
        raise BIError(f"Superset is not installed ({path} is missing): run `make bi` (about two minutes)")
    return path


def state_dir() -> Path:
    folder = settings.laiou_home() / "superset"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def secret_file() -> Path:
    """Superset's SECRET_KEY, made once (mode 0600): it encrypts the stored database password."""
    path = state_dir() / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    return path


def metadata_url(url: str) -> str:
    """Superset's own database on the warehouse server, created the first time."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", [METADATA_DB]).fetchone():
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(METADATA_DB)))
    return warehouse.with_dbname(url, METADATA_DB)


def sqlalchemy_uri(url: str) -> str:
    """A libpq URL as SQLAlchemy's psycopg2 dialect takes it (query parameters such as host and passfile
    reach libpq unchanged)."""
    return "postgresql+psycopg2://" + url.removeprefix("postgresql://")


def marts_uri(url: str) -> str:
    """The marts as laiou_bi: its password from laiou's passfile (embedded server) or LAIOU_BI_PASSWORD."""
    params = psycopg.conninfo.conninfo_to_dict(warehouse.with_user(url, BI_ROLE))
    password = settings.current().bi_password
    if password:
        params = {**params, "password": password}
        params.pop("passfile", None)
    return sqlalchemy_uri(warehouse.as_url(params))


def environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(CONFIG),
        "SUPERSET_LAIOU_SECRET_FILE": str(secret_file()),
        "SUPERSET_LAIOU_METADATA_URI": sqlalchemy_uri(metadata_url(url)),
        "FLASK_APP": "superset",
        "PYTHONWARNINGS": "ignore",  # Superset's own deprecation noise, not the operator's business
    }


def _run(argv: list[str], env: dict[str, str], what: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise BIError(f"{what} failed: {lines[-1] if lines else 'no output'}")
    # Superset prints which configuration it loaded on every start: ours, always.
    return "".join(line for line in done.stdout.splitlines(True) if not line.startswith("Loaded your LOCAL config"))


def provision_spec(url: str, bundle: Path = BUNDLE) -> dict:
    """What app/provision.py makes in Superset, from laiou's knowledge: the marts' address, the bundle and
    the 16 districts (R2) whose roles see their own enterprises only."""
    return {
        "marts_uri": marts_uri(url),
        "bundle": str(bundle),
        "districts": codes.current_district_names(),
    }


def prepare(url: str, say: Callable[[str], None], bundle: Path = BUNDLE) -> dict[str, str]:
    """Superset's metadata current, the dashboards imported, roles and row-level rules provisioned."""
    env = environment(url)
    superset = str(executable("superset"))
    say("upgrading Superset's metadata (database laiou_superset) …")
    _run([superset, "db", "upgrade"], env, "superset db upgrade")
    stamp = initialized_stamp()
    if not stamp.exists():  # its built-in roles and permissions: once per metadata database and version
        say("creating Superset's roles and permissions (superset init, once) …")
        _run([superset, "init"], env, "superset init")
        stamp.touch()
    say("importing the dashboards and provisioning roles and row-level rules …")
    for line in provision(url, env, bundle).splitlines():
        say(line)
    return env


def provision(url: str, env: dict[str, str], bundle: Path = BUNDLE) -> str:
    """The dashboards bundle imported, the roles and row-level rules made (app/provision.py); what it said."""
    spec = json.dumps(provision_spec(url, bundle))
    return _run([str(executable("python")), str(PROVISION), "all"], env, "provisioning", spec)


def initialized_stamp() -> Path:
    return state_dir() / f"initialized-{VERSION}-{METADATA_DB}"


def gunicorn_argv(host: str, port: int) -> list[str]:
    """Superset's web app under gunicorn, as Superset's docs run it in production."""
    return [
        str(executable("gunicorn")),
        "--workers", "2",
        "--worker-class", "gthread",
        "--threads", "4",
        "--timeout", "120",
        "--bind", f"{host}:{port}",
        "--access-logfile", str(state_dir() / "access.log"),
        "superset.app:create_app()",
    ]  # fmt: skip


def port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve(host: str, port: int, say: Callable[[str], None] = print) -> int:
    """Superset in the foreground; Ctrl-C or SIGTERM stops it (gunicorn stops its workers)."""
    executable("gunicorn")  # installed, before anything else is touched
    if not port_free(host, port):
        raise BIError(f"{host}:{port} is in use (Superset already running? `--port` serves it elsewhere)")
    url = warehouse.database_url(start=True)
    env = prepare(url, say)
    argv = gunicorn_argv(host, port)
    say(f"serving Superset on http://{host}:{port} (中文; Ctrl-C stops it)")
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


def parse_role(role: str) -> str:
    """`district:310101` → the Superset role name; anything else named in ROLE_CHOICES as it is."""
    kind, _, code = role.partition(":")
    if kind == "district":
        names = codes.current_district_names()
        if code not in names:
            raise BIError(f"{code!r} is not a current district code (R2): {', '.join(sorted(names))}")
        return role
    if kind in ("admin", "data", "office", "commission") and not code:
        return role
    raise BIError(f"--role {role!r} is not one of {ROLE_CHOICES}")


def add_user(name: str, role: str, password: str) -> str:
    """Creates the user, or gives an existing one this role and password. Superset is prepared first if it
    never was (a user before the first `laiou bi serve`)."""
    if not USER_NAME.fullmatch(name):
        raise BIError(f"{name!r} is not a user name: 2–64 letters, digits, '.', '_', '-' or '@', no space")
    if len(password) < 8:
        raise BIError("the password (standard input) must have at least 8 characters")
    role = parse_role(role)
    url = warehouse.database_url(start=True)
    if initialized_stamp().exists():
        env = environment(url)
    else:
        print("laiou bi: preparing Superset first (its metadata, dashboards; half a minute) …", file=sys.stderr)
        env = prepare(url, lambda _: None)
    payload = json.dumps({**provision_spec(url), "user": {"name": name, "role": role, "password": password}})
    return _run([str(executable("python")), str(PROVISION), "user"], env, "adding the user", payload).strip()


def serve_command(args) -> int:
    """`laiou bi serve`."""
    try:
        return serve(args.host, args.port, say=lambda line: print(f"laiou bi: {line}", file=sys.stderr))
    except BIError as exc:
        print(f"laiou bi serve: {exc}", file=sys.stderr)
        return 2


def user_command(args) -> int:
    """`laiou bi user`: the password from standard input, typed twice at a terminal or the first line of a
    pipe."""
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("laiou bi user: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        print(add_user(args.name, args.role, password))
    except BIError as exc:
        print(f"laiou bi user: {exc}", file=sys.stderr)
        return 2
    return 0
