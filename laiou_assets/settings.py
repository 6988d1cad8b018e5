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


DAGSTER_YAML = """\
# Written by laiou: no telemetry, no sign-up pop-up in the UI, and one event log database with global
# event ids, so that the incident sensor (ops_checks/incidents.py) reads on from where it left off (the
# default SQLite storage numbers each run's events on their own).
telemetry:
  enabled: false
nux:
  enabled: false
event_log_storage:
  module: dagster._core.storage.event_log
  class: ConsolidatedSqliteEventLogStorage
  config:
    base_dir:
      env: DAGSTER_HOME
"""


def ensure_dagster_home() -> Path:
    """Create $DAGSTER_HOME with laiou's dagster.yaml and export it for Dagster's own lookup."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    written_by_laiou = config.exists() and config.read_text(encoding="utf-8").startswith("# Written by laiou")
    if not config.exists() or (written_by_laiou and config.read_text(encoding="utf-8") != DAGSTER_YAML):
        config.write_text(DAGSTER_YAML, encoding="utf-8")  # laiou's own file is kept up to date
    os.environ["DAGSTER_HOME"] = str(home)
    return home
