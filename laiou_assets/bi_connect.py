"""Register the warehouse in Metabase as `laiou_bi`, through Metabase's REST API (`laiou bi metabase`).

Metabase connects over TCP (JDBC): the warehouse must be a server it can reach (LAIOU_DATABASE_URL with a
host), not the embedded one on a unix socket. Only schema `marts` is synced: the one `laiou_bi` can read.
"""

import json
import os
import sys
import urllib.request

from psycopg.conninfo import conninfo_to_dict

from laiou_assets import settings, warehouse
from laiou_assets.access import BI_ROLE


def metabase_database(url: str, password: str, name: str = "laiou marts 来沪投资") -> dict:
    """The body of Metabase's POST /api/database for the warehouse at `url`, as laiou_bi."""
    params = conninfo_to_dict(url)
    host = params.get("host", "")
    if not host or host.startswith("/"):
        raise ValueError(
            "Metabase needs a TCP server: set LAIOU_DATABASE_URL to a server with a host name (the embedded "
            "server listens on a unix socket only)"
        )
    return {
        "engine": "postgres",
        "name": name,
        "details": {
            "host": host,
            "port": int(params.get("port") or 5432),
            "dbname": params["dbname"],
            "user": BI_ROLE,
            "password": password,
            "ssl": params.get("sslmode") in ("require", "verify-ca", "verify-full"),
            "schema-filters-type": "inclusion",
            "schema-filters-patterns": "marts",
        },
    }


def register_in_metabase(metabase: str, admin_user: str, admin_password: str, body: dict) -> int:
    """Log in as a Metabase admin and add the database; returns Metabase's id for it."""
    session = _post(f"{metabase}/api/session", {"username": admin_user, "password": admin_password})["id"]
    return _post(f"{metabase}/api/database", body, {"X-Metabase-Session": session})["id"]


def _post(url: str, body: dict, headers: dict | None = None) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def metabase_command(args) -> int:
    """Register the warehouse in Metabase (passwords from LAIOU_BI_PASSWORD and METABASE_PASSWORD)."""
    given = {
        "LAIOU_BI_PASSWORD": settings.current().bi_password,
        "METABASE_PASSWORD": os.environ.get("METABASE_PASSWORD"),
    }
    missing = [name for name, value in given.items() if not value]
    if missing:
        print(f"laiou bi: set {' and '.join(missing)}", file=sys.stderr)
        return 2
    try:
        body = metabase_database(warehouse.database_url(start=False), settings.current().bi_password)
    except ValueError as exc:
        print(f"laiou bi: {exc}", file=sys.stderr)
        return 2
    database_id = register_in_metabase(args.url.rstrip("/"), args.admin, os.environ["METABASE_PASSWORD"], body)
    print(f"Metabase database {database_id}: {body['name']} (schema marts, as laiou_bi)")
    return 0
