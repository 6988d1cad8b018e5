"""The inspection layer at work: incidents and alerts, the build gate, backups proven by a restore, the
monthly inspection report and annual summary, and the purge of old run history."""

import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from laiou_assets import settings, warehouse
from laiou_assets.building import QUIET
from laiou_assets.definitions import defs
from laiou_assets.generate.faults import FaultPlan
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.ingest.landing import Delivery, delivered
from laiou_assets.ingest.loader import load_delivery
from laiou_assets.migrations import ensure_current
from laiou_assets.resources import WarehouseResource
from laiou_assets.running import run_everything
from ops_checks import backups
from ops_checks.annual_summary import build_annual_summary
from ops_checks.incidents import incident_watch
from ops_checks.inspection_report import build_monthly_report, save_monthly
from ops_checks.operations import inspection_tags, purge_history
from ops_checks.report_files import Heading, write_report
from ops_checks.runbook import runbook_for, runbook_sections
from tests.marts_access import dbt_command
from tests.recorder import Recorder, SmtpRecorder


def sql(query: str, params=None) -> list[tuple]:
    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture
def webhook(monkeypatch):
    hook = Recorder()
    monkeypatch.setenv("LAIOU_ALERT_WEBHOOK", f"{hook.url}/alert")
    yield hook
    hook.close()


def _ingest(month: str):
    warehouse.ensure_dagster_instance()
    job = defs().resolve_job_def("ingest_feeds")
    return job.execute_in_process(
        partition_key=month, instance=dg.DagsterInstance.get(), raise_on_error=False, run_config=QUIET
    )


def _conservation_failures(tmp_path: Path, *tests: str) -> dict[str, list[tuple]]:
    """Runs dbt's tests tax_conserved_* named, in one dbt invocation, and returns each one's failing rows:
    (group, model minus compared)."""
    argv, env = dbt_command(warehouse.database_url(), tmp_path, "test", "--select", *tests, "--store-failures")
    done = subprocess.run(argv, env=env, cwd=settings.DBT_PROJECT_DIR, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stdout[-2000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    results = {
        r["unique_id"].split(".")[2]: r for r in results if r["unique_id"].startswith("test.")
    }  # test.laiou.NAME.hash
    assert set(results) == set(tests) and {r["status"] for r in results.values()} <= {"pass", "fail"}
    return {  # the rows dbt stored for each failing test (store_failures: a table named after it)
        test: sql(f"select grp, model_total - compared_total from {r['relation_name']} order by 1")
        if r["status"] == "fail"
        else []
        for test, r in results.items()
    }


def _sense() -> None:
    context = dg.build_sensor_context(instance=dg.DagsterInstance.get(), resources={"warehouse": WarehouseResource()})
    incident_watch(context)


def test_a_failed_check_opens_one_incident_alerts_once_and_resolves_when_it_passes(laiou_env, webhook):
    plan = FaultPlan.parse([], ["row_count=tax_payment/2018-12"], ["late=tax_payment/2018-11"])
    generate(laiou_env["landing"], GeneratorConfig("2018-10", "2018-12", 500, seed=3), lambda _: None, plan)
    assert _ingest("2018-10-01").success and _ingest("2018-11-01").success
    assert not _ingest("2018-12-01").success  # the row count fault fails the load, hence the run
    _sense()
    _sense()  # nothing new: nothing opened twice, nothing alerted twice
    opened = sql("select kind, subject, partition_key, severity from audit.incident order by kind")
    assert opened == [
        ("check", "raw/tax_payment:delivered_on_time", "2018-11-01", "WARN"),
        ("run", "ingest_feeds", "2018-12-01", "ERROR"),
    ]
    assert [(a["event"], a["incident"]["subject"]) for a in webhook.bodies()] == [
        ("opened", "raw/tax_payment:delivered_on_time"),
        ("opened", "ingest_feeds"),
    ]
    assert "days_late" not in webhook.bodies()[0]["text"] and "delivered 8 day(s) after" in webhook.bodies()[0]["text"]
    assert sql("select notified_via from audit.incident") == [("webhook",), ("webhook",)]

    # The bureau's stamp corrected and the month inspected again; the redelivery with the right count loaded.
    manifest = Delivery("tax_payment", "201811").manifest_path(laiou_env["landing"])
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**doc, "produced_at": "2018-12-05T08:00:00+08:00"}), encoding="utf-8")
    inspect = defs().resolve_job_def("inspect_feeds")
    assert inspect.execute_in_process(instance=dg.DagsterInstance.get(), tags=inspection_tags("2018-11-01")).success
    manifest = Delivery("tax_payment", "201812").manifest_path(laiou_env["landing"])
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**doc, "rows": doc["rows"] - 1}), encoding="utf-8")
    assert _ingest("2018-12-01").success
    _sense()
    resolved = sql(
        "select subject, resolved_at > opened_at from audit.incident where resolved_at is not null order by kind"
    )
    assert resolved == [("raw/tax_payment:delivered_on_time", True), ("ingest_feeds", True)]
    assert [a["event"] for a in webhook.bodies()] == ["opened", "opened", "resolved", "resolved"]


def test_an_error_check_stops_the_build_until_it_passes_again(laiou_env, small_landing, capsys, tmp_path):
    shutil.copytree(small_landing, laiou_env["landing"])
    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        ensure_current(conn)  # then a raw table drifts from the contract
        conn.execute("alter table raw.stats_indicator alter column employees type bigint")
    assert run_everything() == 1
    err = capsys.readouterr().err
    assert "the marts are not built" in err and "raw/stats_indicator:schema_as_contract 2018-10" in err
    assert sql("select to_regclass('marts.dim_enterprise')") == [(None,)]
    assert sql("select count(*) from audit.incident where kind = 'run'") == [(0,)]  # said by the checks' own

    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        conn.execute("alter table raw.stats_indicator alter column employees type integer")
    assert run_everything(operations=True) == 0  # the months with open ERROR incidents are inspected again
    assert sql("select count(*) from audit.incident where severity = 'ERROR' and resolved_at is null") == [(0,)]
    assert sql("select count(*) > 0 from marts.dim_enterprise") == [(True,)]
    assert sql("select count(*) from audit.incident where subject like '%schema_as_contract'") == [(3,)]
    # 守恒: the build ran dbt's conservation tests and they passed (the run succeeded); each names the month or
    # year that loses tax when a layer loses it.
    dropped = sql(  # a fact row lost between the layers
        "delete from marts.fct_tax_monthly where ctid = (select min(ctid) from marts.fct_tax_monthly "
        "where amount_yuan <> 0) returning tax_month, amount_yuan"
    )[0]
    sql(  # a voucher lost (one not counted, so that the facts still add up): fewer than were delivered
        "delete from intermediate.int_tax_vouchers v where voucher_no = (select min(voucher_no) from "
        "intermediate.int_tax_vouchers u where not exists (select 1 from intermediate.int_tax_counted c "
        "where c.voucher_no = u.voucher_no)) returning voucher_no"
    )
    year = sql(
        "update marts.mart_laiou_by_district_year set tax_wan = tax_wan + 0.01 where ctid = "
        "(select min(ctid) from marts.mart_laiou_by_district_year) returning year"
    )[0][0]
    assert _conservation_failures(
        tmp_path,
        "tax_conserved_in_facts",
        "tax_conserved_vouchers_once",
        "tax_conserved_resolved_vouchers",
        "tax_conserved_by_district",
        "tax_conserved_by_province",
    ) == {
        "tax_conserved_in_facts": [(dropped[0], -dropped[1])],  # the month, short by the row's amount
        "tax_conserved_vouchers_once": [("all", -1)],
        "tax_conserved_resolved_vouchers": [],  # R9 attributes what is there: the view follows
        "tax_conserved_by_district": [(year, Decimal("0.010000"))],
        "tax_conserved_by_province": [],  # untouched
    }
    # laiou run also made a proven backup, the reports of the delivered months (dated by the data) and,
    # the data ending in December, the year's summary of all of them
    assert sql("select outcome, restore_outcome from audit.backup") == [("ok", "equal")]
    report = settings.laiou_home() / "reports" / "2018-12" / "inspection_2018-12.html"
    assert report.exists() and "月度巡检报告 / Monthly inspection report — data of 2018-12" in report.read_text(
        encoding="utf-8"
    )
    delivered_months = sorted({f"{d.partition_key[:7]}" for d in delivered(small_landing)})
    assert [m for (m,) in sql("select to_char(month, 'YYYY-MM') from audit.inspection_report order by 1")] == (
        delivered_months
    )
    summary = settings.laiou_home() / "reports" / "2018" / "annual_om_summary_2018.html"
    assert summary.exists() and f"Built from {len(delivered_months)} of the year" in summary.read_text(encoding="utf-8")


def test_a_backup_restores_with_equal_row_counts_and_old_ones_are_removed(laiou_env, small_landing):
    url = warehouse.database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        for d in delivered(small_landing):
            load_delivery(conn, d, small_landing)
    folder = Path(laiou_env["LAIOU_HOME"]) / "backups"
    first = backups.take_backup(url, folder, keep=2)
    finding = backups.restore_check(url)
    assert finding.passed and finding.facts["tables_different"] == 0
    counted = sql("select table_rows from audit.backup")[0][0]
    for feed in ("tax_payment", "saic_shareholder"):  # the dump counts each month's partition
        in_dump = sum(n for table, n in counted.items() if table.startswith(f"raw.{feed}_"))
        assert in_dump == sql(f"select count(*) from raw.{feed}")[0][0] > 0
    time.sleep(1.1)  # backup names carry the second
    backups.take_backup(url, folder, keep=2)
    time.sleep(1.1)
    third = backups.take_backup(url, folder, keep=2)
    assert not Path(first["path"]).exists() and Path(third["path"]).exists()
    assert sql("select count(*) from audit.backup where removed_at is not null") == [(1,)]
    assert len(list(folder.glob("*.dump"))) == 2

    Path(third["path"]).write_bytes(Path(third["path"]).read_bytes()[:2000])  # a damaged backup
    damaged = backups.restore_check(url)
    assert not damaged.passed and "restore failed" in damaged.facts["problem"]
    assert sql("select restore_outcome from audit.backup where path = %s", [third["path"]]) == [("failed",)]
    assert sql("select count(*) from pg_database where datname = %s", [backups.RESTORE_DB]) == [(0,)]


def test_the_monthly_report_counts_what_the_generator_put_in_and_draws_its_charts(laiou_env):
    rates = {"bad_date": 0.01, "invalid_uscc": 0.005}
    plan = FaultPlan.parse([f"{k}={v}" for k, v in rates.items()], [], ["missing=stats_indicator/2018-11"])
    generate(laiou_env["landing"], GeneratorConfig("2018-09", "2018-12", 600, seed=5), lambda _: None, plan)
    for month in ("2018-09-01", "2018-10-01", "2018-11-01", "2018-12-01"):
        _ingest(month)
    sidecar = json.loads((Path(f"{laiou_env['landing']}.sidecar") / "generated.json").read_text(encoding="utf-8"))
    injected = [f for f in sidecar["row_faults"] if f["period"] == "201811"]

    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        report = build_monthly_report(
            conn, dg.DagsterInstance.get(), laiou_env["landing"], "2018-11-01", datetime.now(UTC)
        )
    f = report.figures
    assert (f["data_month"], f["deliveries_received"], f["deliveries_missing"]) == ("2018-11", 3, 1)
    assert f["rows_quarantined"] == len(injected) > 0
    by_reason = {}
    for fault in injected:
        by_reason[(fault["feed"], fault["reason"])] = by_reason.get((fault["feed"], fault["reason"]), 0) + 1
    quarantine = next(s for s in report.sections if s.title.startswith("隔离行"))
    assert {(feed, reason): n for feed, reason, n in quarantine.rows} == by_reason
    checks = next(s for s in report.sections if s.title.startswith("检查结果"))
    groups, group = {}, None  # the checks grouped under a heading per feed or mart
    for row in checks.rows:
        if isinstance(row, Heading):
            group = groups.setdefault(row.text, [])
        else:
            group.append(row)
    assert not [g for g in groups if "stats_indicator" in g]  # stats 2018-11 never loaded: no check ran
    tax = groups["raw/tax_payment — 税收入库信息 / tax payments"]
    assert any(row[0] == "reconciles_with_manifest" and row[2].startswith("passed") for row in tax)
    assert [g.split(" — ")[0] for g in groups][:3] == ["raw/saic_enterprise", "raw/saic_shareholder", "raw/tax_payment"]

    md, page, preview = write_report(
        report, Path(laiou_env["LAIOU_HOME"]) / "reports" / "2018-11", "inspection_2018-11"
    )
    assert md.exists() and page.exists()
    html = page.read_text(encoding="utf-8")  # each runbook link leads to its section, copied into the report
    assert '<a href="#runbook-reconciles_with_manifest">' in html and 'id="runbook-reconciles_with_manifest"' in html
    assert "file://" not in html and str(laiou_env["LAIOU_HOME"]) not in html
    charts = sorted(p.name for p in (md.parent / "charts").glob("*.png"))
    assert charts == ["database.png", "quarantine.png", "rows.png", "usage.png"]
    assert all((md.parent / "charts" / c).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for c in charts)
    assert md.read_text(encoding="utf-8").count("![") == 4 and preview.count("data:image/png;base64,") == 4
    assert "<table>" in page.read_text(encoding="utf-8")

    made = datetime.now(UTC)
    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        save_monthly(conn, report, "2018-11-01", md, page, made)
        annual = build_annual_summary(conn, 2018)
        # Made together with 2018-11's (a catch-up), 2018-12's covers the same time, not the seconds between;
        # made a month later, the time since 2018-11's.
        instance = dg.DagsterInstance.get()
        together = build_monthly_report(conn, instance, laiou_env["landing"], "2018-12-01", made + timedelta(minutes=5))
        later = build_monthly_report(conn, instance, laiou_env["landing"], "2018-12-01", made + timedelta(days=30))
    together, later = (next(s for s in r.sections if s.title.startswith("事件")).text[0] for r in (together, later))
    assert together.startswith("Since records began") and later.startswith("Since the previous report (")
    assert annual.figures["reports"] == 1
    assert annual.figures["rows_quarantined"] == len(injected)
    assert annual.figures["deliveries_missing"] == 1


def test_purge_deletes_runs_and_dbt_folders_past_retention(laiou_env, tmp_path):
    warehouse.ensure_dagster_instance()
    instance = dg.DagsterInstance.get()
    purge = defs().resolve_job_def("purge_old_runs")
    assert purge.execute_in_process(instance=instance).success
    target = tmp_path / "target"
    old, new = target / "laiou_dbt_models-old", target / "laiou_dbt_models-new"
    old.mkdir(parents=True), new.mkdir()
    (target / "manifest.json").write_text("{}")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert purge_history(instance, 1, target) == {"runs_deleted": 0, "dbt_target_folders_deleted": 1}
    assert not old.exists() and new.exists() and (target / "manifest.json").exists()
    runs = len(instance.get_run_records())
    assert runs >= 1 and purge_history(instance, 0, target)["runs_deleted"] == runs
    assert instance.get_run_records() == []


def test_every_check_and_schedule_is_defined_with_a_runbook_section():
    definitions = defs()
    repo = definitions.get_repository_def()
    ours = {
        key.name
        for checks in definitions.asset_checks
        for key in checks.check_keys
        if key.asset_key.path[0] in ("raw", "operations") or key.name == "access_as_warehouse_md_says"
    }
    assert ours <= set(runbook_sections())
    assert len(ours) == 9
    conserved = {  # dbt's tests, one runbook section for the family
        key.name for key in definitions.resolve_asset_graph().asset_check_keys if key.name.startswith("tax_conserved_")
    }
    assert len(conserved) == 10 and {runbook_for(name) for name in conserved} == {"docs/runbook.md#tax_conserved"}
    schedules = {s.name for s in repo.schedule_defs}
    assert not {"monthly_ingest", "monthly_build", "monthly_tax_facts"} & schedules  # arrivals and automation do it
    assert {
        "monthly_feed_inspection",
        "monthly_inspection_report",
        "annual_om_summary",
        "daily_backup",
        "weekly_purge",
    } <= schedules
    assert {s.name for s in repo.sensor_defs} >= {"incident_watch", "landing_zone_arrivals", "laiou_automation"}


def test_alerts_go_by_mail_when_smtp_is_configured_and_to_the_log_otherwise(monkeypatch):
    from ops_checks.incidents import notify

    incident = {"subject": "raw/tax_payment:volume_as_expected", "partition_key": "2018-11-01", "severity": "WARN"}
    mail = SmtpRecorder()
    monkeypatch.delenv("LAIOU_ALERT_WEBHOOK", raising=False)
    monkeypatch.setenv("LAIOU_ALERT_SMTP", f"smtp://laiou:secret@127.0.0.1:{mail.port}")
    monkeypatch.setenv("LAIOU_ALERT_TO", "oncall@office")
    logged = []
    try:
        assert notify("opened", incident, logged.append) == "smtp"
    finally:
        mail.close()
    [(sender, recipients, text)] = mail.mails
    assert recipients == ["<oncall@office>"] and "raw/tax_payment:volume_as_expected 2018-11" in text
    monkeypatch.setenv("LAIOU_ALERT_SMTP", "smtp://127.0.0.1:9")  # nothing listens: the failure is kept
    assert notify("opened", incident, logged.append).startswith("smtp failed")
    monkeypatch.delenv("LAIOU_ALERT_SMTP")
    assert notify("resolved", incident, logged.append) == "log"
    assert logged[-1].startswith("[laiou WARN] resolved: raw/tax_payment:volume_as_expected 2018-11")


def test_a_check_result_carries_its_runbook_section_and_no_path_of_this_machine(monkeypatch):
    from pathlib import Path

    from ops_checks.runbook import Finding, check_result

    runbook = (Path(__file__).parents[1] / "docs" / "runbook.md").read_text(encoding="utf-8")
    section = runbook.split("## delivered_on_time\n", 1)[1].split("\n## ", 1)[0].strip()
    result = check_result("delivered_on_time", dg.AssetCheckSeverity.WARN, {"2018-11-01": Finding(False, {"n": 1})})
    assert result.metadata["runbook"].value == section
    assert result.metadata["runbook_section"].value == "docs/runbook.md#delivered_on_time"
    assert "file://" not in str(result.metadata) and str(Path.home()) not in str(result.metadata)
    monkeypatch.setenv("LAIOU_RUNBOOK_URL", "https://office.example/runbook")
    result = check_result("delivered_on_time", dg.AssetCheckSeverity.WARN, {"2018-11-01": Finding(True)})
    assert result.metadata["runbook_section"].value == "https://office.example/runbook#delivered_on_time"
