"""`laiou status`: one screen for the operator, and an exit code for a monitoring probe (0: nothing needs a
person; 1: something does, each such line marked `!!`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
from croniter import croniter

from laiou_assets import health, settings, warehouse
from laiou_assets.building import marts_current
from laiou_assets.contract import FEEDS
from laiou_assets.definitions import defs
from laiou_assets.ingest.landing import Delivery, scan
from laiou_assets.partitions import TIMEZONE

SHANGHAI = ZoneInfo(TIMEZONE)
BUILD_GRACE = timedelta(hours=1)  # after a load, the automation's build normally follows within minutes


def _at(moment: datetime | float | None) -> str:
    if moment is None:
        return "never"
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def incomplete_deliveries(landing: Path) -> list[str]:
    """Month folders of a feed holding no manifest yet (the producer writes it last)."""
    if not landing.is_dir():
        return []
    return sorted(
        f"{feed}/{folder.name}"
        for feed in FEEDS
        if (landing / feed).is_dir()
        for folder in (landing / feed).iterdir()
        if folder.is_dir()
        and folder.name.isdigit()
        and len(folder.name) == 6
        and not Delivery(feed, folder.name).manifest_path(landing).exists()
    )


def report(url: str, instance: dg.DagsterInstance, definitions: dg.Definitions) -> tuple[list[str], bool]:
    """The status lines, and whether anything needs a person."""
    lines, needs = [], False

    def line(text: str, bad: bool = False) -> None:
        nonlocal needs
        needs |= bad
        lines.append(("!! " if bad else "   ") + text)

    now = datetime.now(UTC)
    lines.append(f"laiou status, {_at(now)} ({TIMEZONE})")
    with psycopg.connect(url, autocommit=True) as conn:
        line(f"warehouse: reachable, {warehouse.safe_url(url)}")
        daemons = instance.get_daemon_statuses() if instance.get_daemon_heartbeats() else {}
        sick = sorted(name for name, status in daemons.items() if not status.healthy)
        if not daemons:  # a CLI-only installation (`laiou run` by hand or cron): nothing to miss
            line("daemon: none has run on this instance (`laiou serve` runs one; schedules and sensors need it)")
        elif sick:
            line(
                f"daemon: not running or unhealthy ({', '.join(sick)}): schedules and sensors stand still; "
                "start it with `laiou serve`",
                bad=True,
            )
        else:
            line(f"daemon: healthy ({len(daemons)} daemons heartbeating)")

        loads = health.last_loads(conn)
        line("last delivery per feed:" if loads else "last delivery per feed: none loaded yet")
        for feed, period, outcome, finished, loaded, quarantined in loads:
            rows = f", {loaded:,} rows, {quarantined:,} quarantined" if outcome == "loaded" else ""
            line(f"  {feed:<17} {period:%Y-%m} {outcome} {_at(finished)}{rows}")

        found = scan(settings.landing_dir())
        for warning in found.warnings:  # folders no load will take until someone renames or removes them
            line(f"landing zone: {warning}", bad=True)
        waiting = incomplete_deliveries(settings.landing_dir())
        if waiting:
            line(f"landing zone: waiting for the manifest of {', '.join(waiting)} (incomplete deliveries)")

        failed = health.failed_deliveries(conn)
        line(f"failed months: {len(failed) or 'none'}", bad=bool(failed))
        for delivery in failed:
            line(f"  {delivery} (since {_at(delivery.failed_at)}; a good redelivery resolves it)", bad=True)

        incidents = health.open_incidents(conn)
        errors = [i for i in incidents if i[0] == "ERROR"]
        line(f"open incidents: {len(incidents)} ({len(errors)} ERROR)", bad=bool(errors))
        for severity, subject, month, message, opened in incidents[:10]:
            line(
                f"  {severity:<5} {subject} {month[:7]}: {_shortened(message)} (since {_at(opened)})",
                bad=severity == "ERROR",
            )

    current, built_at, loaded_at = marts_current(instance)
    if not loads:
        line("marts: nothing loaded yet")
    elif not current and failed:
        kept = f"kept as built {_at(built_at)}" if built_at else "none built yet"
        line(f"marts: not rebuilt while a month has failed ({kept}); its good redelivery lets the build go on")
    elif not current:
        late = loaded_at is not None and now - loaded_at > BUILD_GRACE
        built = f"last built {_at(built_at)}, before the last load ({_at(loaded_at)})" if built_at else "never built"
        line(
            f"marts: STALE, {built}"
            + ("; no build followed within the hour (or it failed)" if late else "; the automation builds them next"),
            bad=late,
        )
    else:
        line(f"marts: current, built {_at(built_at)}, after the last load")

    ticks = []
    for schedule in definitions.schedules:
        schedule = definitions.resolve_schedule_def(schedule.name)
        zone = ZoneInfo(schedule.execution_timezone or TIMEZONE)
        ticks.append((croniter(schedule.cron_schedule, now.astimezone(zone)).get_next(datetime), schedule.name))
    line("next scheduled ticks:")
    for when, name in sorted(ticks)[:5]:
        line(f"  {_at(when)} {name}")
    return lines, needs


def main() -> int:
    url = warehouse.database_url(start=True)
    warehouse.ensure_dagster_instance()
    with dg.DagsterInstance.get() as instance:
        lines, needs = report(url, instance, defs())
    print("\n".join(lines))
    print("!! needs a person" if needs else "   nothing needs a person")
    return 1 if needs else 0


def _shortened(message: str, width: int = 100) -> str:
    """The message on one line, cut at `width` with an ellipsis that says so (the whole text: `audit.incident`)."""
    message = " ".join(message.split())
    return message if len(message) <= width else message[: width - 1].rstrip() + "…"
