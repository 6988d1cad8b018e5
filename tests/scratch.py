"""A scratch warehouse for tests: its own database on the test session's server, and its own local state."""

import contextlib
import uuid
from pathlib import Path

import psycopg
import pytest

from laiou_assets import warehouse


@contextlib.contextmanager
def scratch_warehouse(server_url: str, root: Path, patch: pytest.MonkeyPatch, landing: Path | None = None):
    """A fresh database on the test server, with LAIOU_HOME, landing zone and Dagster instance under `root`,
    set in the environment through `patch`; the database is dropped afterwards."""
    dbname = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{dbname}"')
    env = {
        "LAIOU_DATABASE_URL": warehouse.with_dbname(server_url, dbname),
        "LAIOU_HOME": str(root / "home"),
        "LAIOU_LANDING_DIR": str(landing or root / "landing"),
        "DAGSTER_HOME": str(root / "dagster"),
    }
    for key, value in env.items():
        patch.setenv(key, value)
    try:
        yield {**env, "landing": Path(env["LAIOU_LANDING_DIR"])}
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{dbname}" with (force)')
            conn.execute(f'drop database if exists "{dbname}_dagster" with (force)')  # its Dagster instance
