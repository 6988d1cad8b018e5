"""事件与告警 / incidents and alerts: open-source Dagster alerts nobody when a check fails, so this does.

A sensor reads the Dagster event log from where it left off (its cursor): each failed check evaluation
opens an incident in audit.incident (one open incident per check and partition) and each later passing
evaluation of the same check and partition resolves it; a failed run opens one per job and partition, a
later successful run of the same job and partition resolves it. Opening and resolving notify through the
channel the environment names (`notify`): a webhook, SMTP, or else the log.
"""

import json
import smtplib
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

import dagster as dg

from laiou_assets import migrations, settings
from laiou_assets.keys import INCIDENTS, PARTITION_TAG
from laiou_assets.resources import WarehouseResource
from ops_checks.dbt_tests import failure_message
from ops_checks.events import (
    check_evaluations,
    crash_reason,
    failed_only_by_checks,
    failure_reasons,
    runs_ended_after,
    step_failures,
)
from ops_checks.runbook import runbook_for, runbook_url

WILL_RETRY_TAG = "dagster/will_retry"  # set by Dagster on a failed run it will run again (run_retries)

ALERT_RETRY_BUDGET = 20.0  # seconds a sensor tick spends sending alerts that failed before


def notify(event: str, incident: dict, log: Callable[[str], None]) -> str:
    """Send one alert; returns the channel used (or what went wrong with it: an alert never fails the sensor).

    LAIOU_ALERT_WEBHOOK: POST of a JSON body {"text", "event", "incident"} (Slack, DingTalk, WeCom robots and
    most chat tools take a "text"). LAIOU_ALERT_SMTP (smtp://user:password@host:port, smtps:// for TLS) with
    LAIOU_ALERT_TO and LAIOU_ALERT_FROM: a mail. Neither: the sensor's log.
    """
    text = (
        f"[laiou {incident['severity']}] {event}: {incident['subject']}"
        + (f" {incident['partition_key'][:7]}" if incident["partition_key"] else "")
        + (f" — {incident['message']}" if incident.get("message") else "")
        + (f" (runbook: {incident['runbook']})" if incident.get("runbook") else "")
    )
    webhook, smtp = settings.current().alert_webhook, settings.current().alert_smtp
    if not (webhook or smtp):
        log(text)
        return "log"
    try:
        if webhook:
            body = json.dumps({"text": text, "event": event, "incident": incident}, default=str).encode()
            request = urllib.request.Request(webhook, body, {"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=10):
                pass
            return "webhook"
        _mail(smtp, text)
        return "smtp"
    except Exception as exc:  # the incident is recorded all the same; the failure is kept, and sent again later
        log(f"alert not sent ({exc!r}), to be tried again on the next ticks: {text}")
        return f"{'webhook' if webhook else 'smtp'} failed: {exc}"[:200]


def resend_failed_alerts(conn, log: Callable[[str], None], budget_seconds: float = ALERT_RETRY_BUDGET) -> int:
    """Open incidents whose opening alert could not be sent: try each once more (every sensor tick, outside
    the incidents' cursor lock, within a time budget so that a dead webhook cannot stall the sensor), and
    record the channel once it goes through. Returns how many were sent now."""
    sent, deadline = 0, time.monotonic() + budget_seconds
    rows = conn.execute(
        "select incident_id, kind, subject, partition_key, severity, message, runbook from audit.incident "
        "where resolved_at is null and notified_via like '%% failed:%%' order by opened_at"
    ).fetchall()
    for incident_id, kind, subject, partition_key, severity, message, runbook in rows:
        if time.monotonic() > deadline:
            break
        incident = {
            "kind": kind,
            "subject": subject,
            "partition_key": partition_key,
            "severity": severity,
            "message": message,
            "runbook": runbook,
        }
        channel = notify("opened", incident, log)
        conn.execute("update audit.incident set notified_via = %s where incident_id = %s", [channel, incident_id])
        sent += " failed:" not in channel
    return sent


def _mail(url: str, text: str) -> None:
    parts = urlparse(url)
    message = EmailMessage()
    message["Subject"] = text[:150]
    message["From"] = settings.current().alert_from
    message["To"] = settings.current().alert_to or ""
    message.set_content(text)
    client = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with client(parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 25), timeout=10) as server:
        if parts.username:
            server.login(unquote(parts.username), unquote(parts.password or ""))
        server.send_message(message)


OPEN_SQL = """
insert into audit.incident (kind, subject, partition_key, severity, opened_at, opened_by_run, message, runbook)
values (%(kind)s, %(subject)s, %(partition_key)s, %(severity)s, %(at)s, %(run)s, %(message)s, %(runbook)s)
on conflict (kind, subject, partition_key) where resolved_at is null do nothing
returning incident_id
"""
RESOLVE_SQL = """
update audit.incident set resolved_at = %(at)s, resolved_by_run = %(run)s
where kind = %(kind)s and subject = %(subject)s and partition_key = %(partition_key)s and resolved_at is null
returning incident_id, severity, message, runbook
"""


def _record(conn, incident: dict, failed: bool, log) -> str | None:
    """Open (failed) or resolve (passed) the incident; notify when its state changed. Returns the change."""
    if failed:
        if conn.execute(OPEN_SQL, incident).fetchone() is None:
            return None  # already open: one alert per incident, not one per failing evaluation
        channel = notify("opened", incident, log)
        conn.execute(
            "update audit.incident set notified_via = %s where kind = %s and subject = %s and partition_key = %s "
            "and resolved_at is null",
            [channel, incident["kind"], incident["subject"], incident["partition_key"]],
        )
        return "opened"
    row = conn.execute(RESOLVE_SQL, incident).fetchone()
    if row is None:
        return None
    notify("resolved", {**incident, "severity": row[1], "message": row[2], "runbook": row[3]}, log)
    return "resolved"


def process_events(instance: dg.DagsterInstance, conn, log: Callable[[str], None]) -> dict:
    """Turn the runs that ended since last time, and their check evaluations, into incidents.

    Where it left off is kept in audit.incident_cursor (`runs`: the event that ended the last run seen),
    under a lock, so the sensor and `laiou run` can both call it and each evaluation is seen once
    (re-reading an old failure would reopen a resolved incident). Returns {"opened": n, "resolved": n,
    "opened_checks": [(severity, check name), …]}.
    """
    migrations.ensure_current(conn)
    changes = {"opened": 0, "resolved": 0, "opened_checks": []}

    def record(incident: dict, failed: bool) -> None:
        change = _record(conn, incident, failed, log)
        if change:
            changes[change] += 1
        if change == "opened" and incident["kind"] == "check":
            changes["opened_checks"].append((incident["severity"], incident["subject"].rsplit(":", 1)[-1]))

    with conn.transaction():
        runs_after = conn.execute("select runs from audit.incident_cursor for update").fetchone()[0]
        for ended in runs_ended_after(instance, runs_after):
            for evaluation, at in check_evaluations(instance, ended.run_id):
                check = {
                    "kind": "check",
                    "subject": evaluation.asset_check_key.to_user_string(),
                    "partition_key": evaluation.partition or "",
                    "severity": evaluation.severity.value,
                    "at": datetime.fromtimestamp(at, UTC),
                    "run": ended.run_id,
                    "message": failure_message(evaluation.asset_check_key.name, evaluation.metadata),
                    "runbook": runbook_for(evaluation.asset_check_key.name),
                }
                record(check, not evaluation.passed)
            runs_after = ended.storage_id
            failed = ended.outcome == dg.DagsterEventType.RUN_FAILURE
            failures = step_failures(instance, ended.run_id) if failed else []
            if ended.outcome == dg.DagsterEventType.RUN_CANCELED or (failed and failed_only_by_checks(failures)):
                continue  # canceled: no verdict; failed by checks: their own incidents say it, per month
            run = instance.get_run_by_id(ended.run_id)
            # the failed steps' own words (a load names its file), or how its process died; a run failed
            # without a failing step is run once more by Dagster (run_retries in laiou's dagster.yaml)
            reason = ""
            if failed:
                reason = failure_reasons(failures) or crash_reason(instance, ended.run_id) or ended.message
            retried = failed and run is not None and run.tags.get(WILL_RETRY_TAG) == "true"
            retry_note = " Dagster runs it once more; its success resolves this incident." if retried else ""
            incident = {
                "kind": "run",
                "subject": run.job_name if run else "?",
                "partition_key": (run.tags.get(PARTITION_TAG, "") if run else ""),
                "severity": "ERROR",
                "at": datetime.fromtimestamp(ended.timestamp, UTC),
                "run": ended.run_id,
                "message": reason[: 500 - len(retry_note)] + retry_note if failed else None,
                "runbook": runbook_url("failed_run"),
            }
            record(incident, failed)
        conn.execute("update audit.incident_cursor set runs = %s", [runs_after])
    return changes


def blocking_incidents(conn) -> list[tuple[str, str, str]]:
    """Open ERROR incidents of the raw feeds' checks: (check, month, message). The marts are not built on
    such data (the build schedules skip, `laiou run` stops before building)."""
    migrations.ensure_current(conn)
    return conn.execute(
        "select subject, partition_key, coalesce(message, '') from audit.incident "
        "where resolved_at is null and kind = 'check' and severity = 'ERROR' and subject like 'raw/%%' "
        "order by subject, partition_key"
    ).fetchall()


# The incidents table, written by the sensor below (and read by dbt for 数据质量): named so that it has a
# group and a description in the UI.
incidents_table = dg.AssetSpec(
    INCIDENTS,
    group_name="operations",
    kinds={"postgres"},
    description=(
        "事件 / audit.incident: one row per failed check or run, open until it passes again, with its runbook "
        "section and how it was alerted (the mart ops_open_incidents lists the open ones for 数据质量)."
    ),
)


@dg.sensor(
    name="incident_watch",
    minimum_interval_seconds=settings.sensor_interval("incident"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "事件监测 / opens an incident in audit.incident for each failed check (per partition) or failed run, "
        "resolves it when the check passes or the job succeeds again, and alerts through LAIOU_ALERT_WEBHOOK or "
        "LAIOU_ALERT_SMTP (else the log). Requests no runs."
    ),
)
def incident_watch(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        changes = process_events(context.instance, conn, context.log.warning)
        resent = resend_failed_alerts(conn, context.log.warning)
    return dg.SkipReason(
        f"incidents opened: {changes['opened']}, resolved: {changes['resolved']}; alerts sent late: {resent}"
    )
