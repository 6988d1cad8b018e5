"""Where local state lives, read from the environment at call time (warehouse.md, Configuration)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def laiou_home() -> Path:
    return Path(os.environ.get("LAIOU_HOME") or PROJECT_ROOT / ".laiou").resolve()


def landing_dir() -> Path:
    return Path(os.environ.get("LAIOU_LANDING_DIR") or laiou_home() / "landing").resolve()


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or laiou_home() / "dagster").resolve()


def database_url() -> str | None:
    return os.environ.get("LAIOU_DATABASE_URL") or None


# Readers must not stall a build: PostgreSQL queues every later reader behind a build waiting for a table
# that an idle reader's open transaction still holds. Reading roles (laiou_bi, the districts) lose an idle
# transaction after LAIOU_READER_IDLE_TIMEOUT and a statement after LAIOU_READER_STATEMENT_TIMEOUT; a dbt
# build waits at most LAIOU_BUILD_LOCK_TIMEOUT for a lock (longer than a reader's statement), then fails.
def reader_idle_timeout() -> str:
    return os.environ.get("LAIOU_READER_IDLE_TIMEOUT") or "60s"


def reader_statement_timeout() -> str:
    return os.environ.get("LAIOU_READER_STATEMENT_TIMEOUT") or "5min"


def build_lock_timeout() -> str:
    return os.environ.get("LAIOU_BUILD_LOCK_TIMEOUT") or "6min"


def sensor_interval(name: str, default: int) -> int:
    """Seconds between two looks of a sensor: LAIOU_<NAME>_INTERVAL (read when the definitions load)."""
    return int(os.environ.get(f"LAIOU_{name.upper()}_INTERVAL") or default)
