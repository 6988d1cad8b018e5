"""A failed alert is tried again and its failure recorded (issue #14): within the alert, then on each
later tick of the incident sensor until it goes through."""

from __future__ import annotations

import psycopg
import pytest

from ops_checks import incidents
from ops_checks.store import ensure_ops_tables
from tests.recorder import Recorder

INCIDENT = {
    "kind": "check",
    "subject": "raw/tax_payment:schema_as_contract",
    "partition_key": "2018-12-01",
    "severity": "ERROR",
    "message": "column amount is text",
    "runbook": None,
}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(incidents, "ALERT_RETRY_PAUSES", (0, 0))


def test_an_alert_refused_twice_goes_through_on_its_third_try(monkeypatch):
    hook = Recorder(failures=2)
    monkeypatch.setenv("LAIOU_ALERT_WEBHOOK", hook.url)
    try:
        assert incidents.notify("opened", INCIDENT, log=lambda _: None) == "webhook"
    finally:
        hook.close()
    assert len(hook.refused) == 2 and [b["incident"]["subject"] for b in hook.bodies()] == [INCIDENT["subject"]]


def test_an_alert_that_cannot_be_sent_is_recorded_and_sent_on_a_later_tick(laiou_env, monkeypatch):
    hook = Recorder(failures=3)  # the three tries of the first tick
    monkeypatch.setenv("LAIOU_ALERT_WEBHOOK", hook.url)
    said: list[str] = []
    try:
        with psycopg.connect(laiou_env["LAIOU_DATABASE_URL"], autocommit=True) as conn:
            ensure_ops_tables(conn)
            opened = incidents._record(conn, {**INCIDENT, "at": "2018-12-21", "run": "r1"}, True, said.append)
            assert opened == "opened" and len(hook.refused) == 3 and hook.bodies() == []
            [(via,)] = conn.execute("select notified_via from audit.incident").fetchall()
            assert via.startswith("webhook failed: HTTP Error 503")
            assert any("alert not sent after 3 attempts" in line for line in said)

            assert incidents.resend_failed_alerts(conn, said.append) == 1  # the next tick
            assert conn.execute("select notified_via from audit.incident").fetchall() == [("webhook",)]
            assert incidents.resend_failed_alerts(conn, said.append) == 0  # and only once
    finally:
        hook.close()
    assert [b["event"] for b in hook.bodies()] == ["opened"]
