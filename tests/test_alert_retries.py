"""A failed alert is tried again and its failure recorded (issue #14): on each later tick of the incident
sensor until it goes through, never holding the incidents' lock while it waits."""

from __future__ import annotations

import psycopg

from laiou_assets.migrations import ensure_current
from ops_checks import incidents
from tests.recorder import Recorder

INCIDENT = {
    "kind": "check",
    "subject": "raw/tax_payment:schema_as_contract",
    "partition_key": "2018-12-01",
    "severity": "ERROR",
    "message": "column amount is text",
    "runbook": None,
}


def test_an_alert_that_cannot_be_sent_is_recorded_and_sent_on_a_later_tick(laiou_env, monkeypatch):
    hook = Recorder(failures=2)  # refused when the incident opens, and on the next tick
    monkeypatch.setenv("LAIOU_ALERT_WEBHOOK", hook.url)
    said: list[str] = []
    try:
        with psycopg.connect(laiou_env["LAIOU_DATABASE_URL"], autocommit=True) as conn:
            ensure_current(conn)
            opened = incidents._record(conn, {**INCIDENT, "at": "2018-12-21", "run": "r1"}, True, said.append)
            assert opened == "opened" and len(hook.refused) == 1 and hook.bodies() == []
            [(via,)] = conn.execute("select notified_via from audit.incident").fetchall()
            assert via.startswith("webhook failed: HTTP Error 503")
            assert any("alert not sent" in line and "tried again" in line for line in said)

            assert incidents.resend_failed_alerts(conn, said.append) == 0  # refused again on the next tick
            assert len(hook.refused) == 2
            assert incidents.resend_failed_alerts(conn, said.append) == 1  # and sent on the one after
            assert conn.execute("select notified_via from audit.incident").fetchall() == [("webhook",)]
            assert incidents.resend_failed_alerts(conn, said.append) == 0  # and only once
    finally:
        hook.close()
    assert [b["event"] for b in hook.bodies()] == ["opened"]
