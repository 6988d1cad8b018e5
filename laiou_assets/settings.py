"""Every setting laiou reads from the environment, in one object (warehouse.md, Configuration).

`VARIABLES` lists each variable with its default and meaning; the README's configuration table is kept
equal to it by a test. `current()` reads them into a `Settings`, once per distinct environment (a test
that changes a variable gets a new object), and names a bad value and the variable it came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from laiou_assets.contract import FEEDS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"  # dagster-dbt's default, where each run gets a folder


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as the README shows it; "" when unset means "none"
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "LAIOU_DATABASE_URL",
        "unset: an embedded PostgreSQL server, started on demand, data under `$LAIOU_HOME/pg`",
        "PostgreSQL URL of the warehouse",
    ),
    Variable(
        "LAIOU_HOME", "`.laiou` in the project root", "where local state lives (embedded server, reports, backups)"
    ),
    Variable("LAIOU_LANDING_DIR", "`$LAIOU_HOME/landing`", "landing zone (feeds.md)"),
    Variable(
        "DAGSTER_HOME",
        "`$LAIOU_HOME/dagster`",
        "Dagster instance (its `dagster.yaml`; runs, event log and schedules live in PostgreSQL, database "
        "`<warehouse>_dagster` on the warehouse's server)",
    ),
    Variable(
        "LAIOU_BI_PASSWORD",
        "unset",
        "password given to `laiou_bi` on every build (an external server; the embedded one generates its own)",
    ),
    Variable(
        "LAIOU_BI_SERVE",
        "`auto`",
        "whether `laiou serve` also serves Superset on 127.0.0.1:8088: `auto` (when `make bi` installed it), "
        "`on` or `off`",
    ),
    Variable(
        "LAIOU_READER_IDLE_TIMEOUT",
        "`60s`",
        "a reading role's transaction left idle this long is ended, so it cannot stall a build",
    ),
    Variable("LAIOU_READER_STATEMENT_TIMEOUT", "`5min`", "longest statement of a reading role"),
    Variable(
        "LAIOU_BUILD_LOCK_TIMEOUT", "`6min`", "longest a dbt build waits for a table that a reader holds, then fails"
    ),
    Variable("LAIOU_BACKUP_DIR", "`$LAIOU_HOME/backups`", "where `daily_backup` writes its dumps"),
    Variable("LAIOU_BACKUP_KEEP", "`7`", "how many backups are kept (the newest)"),
    Variable("LAIOU_KEEP_RUNS_DAYS", "`90`", "days of Dagster run history and dbt target folders `weekly_purge` keeps"),
    Variable("LAIOU_ALERT_WEBHOOK", "unset", "alerts as a JSON POST with a `text` (Slack, DingTalk, WeCom robots)"),
    Variable(
        "LAIOU_ALERT_SMTP",
        "unset",
        "alerts by mail: `smtp://user:pass@host:port` (`smtps://` for TLS), to `LAIOU_ALERT_TO`",
    ),
    Variable("LAIOU_ALERT_TO", "unset", "the mail alerts' recipients (comma-separated)"),
    Variable("LAIOU_ALERT_FROM", "`laiou@localhost`", "the mail alerts' sender"),
    Variable(
        "LAIOU_RUNBOOK_URL",
        "unset: results carry their runbook section's text and name it as `docs/runbook.md#<check>`",
        "where `docs/runbook.md` is published (a web page); check results, alerts and reports link its sections there",
    ),
    Variable("LAIOU_ARRIVAL_INTERVAL", "`60`", "seconds between two looks of the arrival sensor"),
    Variable("LAIOU_AUTOMATION_INTERVAL", "`30`", "seconds between two evaluations of the automation conditions"),
    Variable("LAIOU_INCIDENT_INTERVAL", "`30`", "seconds between two looks of `incident_watch`"),
    Variable("LAIOU_DUE_DAY", "`20`", "a month's delivery is due by this day of the following month"),
    Variable("LAIOU_DUE_DAY_<FEED>", "`LAIOU_DUE_DAY`", "one bureau's own due day, e.g. `LAIOU_DUE_DAY_TAX_PAYMENT`"),
    Variable("LAIOU_VOLUME_LOW", "`0.5`", "a month's rows below this share of the usual volume are an anomaly"),
    Variable("LAIOU_VOLUME_HIGH", "`2.0`", "… and above this multiple of it"),
    Variable("LAIOU_DRIFT_P", "`0.001`", "shares differ from the previous months' beyond chance (chi-square p) …"),
    Variable("LAIOU_DRIFT_TVD", "`0.10`", "… and by at least this total variation distance"),
    Variable("LAIOU_UNKNOWN_SHARE", "`0.01`", "share of records naming enterprises the feeds do not know"),
)


class SettingError(ValueError):
    """A variable's value that laiou cannot use: names the variable and the value."""


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    dagster_home: Path
    database_url: str | None
    bi_password: str | None
    bi_serve: str  # auto | on | off
    reader_idle_timeout: str
    reader_statement_timeout: str
    build_lock_timeout: str
    backup_dir: Path
    backup_keep: int
    keep_runs_days: int
    alert_webhook: str | None
    alert_smtp: str | None
    alert_to: str | None
    alert_from: str
    runbook_url: str | None
    sensor_intervals: dict[str, int]  # arrival, automation, incident
    due_day: int
    due_day_by_feed: dict[str, int] = field(default_factory=dict)
    volume_low: float = 0.5
    volume_high: float = 2.0
    drift_p: float = 0.001
    drift_tvd: float = 0.10
    unknown_share: float = 0.01


def _day(env: dict[str, str], name: str, default: int) -> int:
    """A day of the month by which a delivery is due: 1–28, so that every month has it."""
    day = _number(env, name, default, int)
    if not 1 <= day <= 28:
        raise SettingError(f"{name}={env[name]!r} is not a day of every month (1–28)")
    return day


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; the first when unset."""
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise SettingError(f"{name}={env[name]!r} is not one of {', '.join(choices)}")
    return value


def _number(env: dict[str, str], name: str, default, kind):
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a {'whole number' if kind is int else 'number'}") from None
    if value < 0:
        raise SettingError(f"{name}={raw!r} is negative")
    return value


@cache
def _read(items: tuple[tuple[str, str], ...]) -> Settings:
    env = dict(items)
    home = Path(env.get("LAIOU_HOME") or PROJECT_ROOT / ".laiou").resolve()
    due_day = _day(env, "LAIOU_DUE_DAY", 20)
    return Settings(
        home=home,
        landing_dir=Path(env.get("LAIOU_LANDING_DIR") or home / "landing").resolve(),
        dagster_home=Path(env.get("DAGSTER_HOME") or home / "dagster").resolve(),
        database_url=env.get("LAIOU_DATABASE_URL") or None,
        bi_password=env.get("LAIOU_BI_PASSWORD") or None,
        bi_serve=_choice(env, "LAIOU_BI_SERVE", ("auto", "on", "off")),
        # Readers must not stall a build: PostgreSQL queues every later reader behind a build waiting for a
        # table that an idle reader's open transaction still holds. So reading roles lose an idle transaction
        # and a long statement; a dbt build waits at most the lock timeout (longer than a statement), then fails.
        reader_idle_timeout=env.get("LAIOU_READER_IDLE_TIMEOUT") or "60s",
        reader_statement_timeout=env.get("LAIOU_READER_STATEMENT_TIMEOUT") or "5min",
        build_lock_timeout=env.get("LAIOU_BUILD_LOCK_TIMEOUT") or "6min",
        backup_dir=Path(env.get("LAIOU_BACKUP_DIR") or home / "backups"),
        backup_keep=_number(env, "LAIOU_BACKUP_KEEP", 7, int),
        keep_runs_days=_number(env, "LAIOU_KEEP_RUNS_DAYS", 90, int),
        alert_webhook=env.get("LAIOU_ALERT_WEBHOOK") or None,
        alert_smtp=env.get("LAIOU_ALERT_SMTP") or None,
        alert_to=env.get("LAIOU_ALERT_TO") or None,
        alert_from=env.get("LAIOU_ALERT_FROM") or "laiou@localhost",
        runbook_url=env.get("LAIOU_RUNBOOK_URL") or None,
        sensor_intervals={
            name: _number(env, f"LAIOU_{name.upper()}_INTERVAL", default, int)
            for name, default in (("arrival", 60), ("automation", 30), ("incident", 30))
        },
        due_day=due_day,
        due_day_by_feed={f: _day(env, f"LAIOU_DUE_DAY_{f.upper()}", due_day) for f in FEEDS},
        volume_low=_number(env, "LAIOU_VOLUME_LOW", 0.5, float),
        volume_high=_number(env, "LAIOU_VOLUME_HIGH", 2.0, float),
        drift_p=_number(env, "LAIOU_DRIFT_P", 0.001, float),
        drift_tvd=_number(env, "LAIOU_DRIFT_TVD", 0.10, float),
        unknown_share=_number(env, "LAIOU_UNKNOWN_SHARE", 0.01, float),
    )


def current() -> Settings:
    """The settings of the environment as it is now."""
    return _read(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LAIOU_") or k == "DAGSTER_HOME")))


# The few that most modules need, by name.
def laiou_home() -> Path:
    return current().home


def shown(path: Path | str) -> str:
    """A file laiou wrote, as the UI and messages show it: under `$LAIOU_HOME/` when it is there, so that it
    names the same place on every machine (the UI would render a bare path as a dead link)."""
    try:
        return f"$LAIOU_HOME/{Path(path).resolve().relative_to(laiou_home().resolve())}"
    except ValueError:
        return str(path)


def landing_dir() -> Path:
    return current().landing_dir


def dagster_home() -> Path:
    return current().dagster_home


def database_url() -> str | None:
    return current().database_url


def reader_idle_timeout() -> str:
    return current().reader_idle_timeout


def reader_statement_timeout() -> str:
    return current().reader_statement_timeout


def build_lock_timeout() -> str:
    return current().build_lock_timeout


def sensor_interval(name: str) -> int:
    """Seconds between two looks of a sensor (read when the definitions load)."""
    return current().sensor_intervals[name]
