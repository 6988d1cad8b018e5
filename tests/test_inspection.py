"""The raw-feed checks of ops_checks/feeds.py: each fails on an anomaly the generator injects and passes on
the same month generated clean. Two small warehouses are loaded once for the module: the clean zone and
the same zone (same seed) with one anomaly per check."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from laiou_assets import warehouse
from laiou_assets.contract import FEEDS
from laiou_assets.generate.faults import FaultPlan
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.ingest.landing import Delivery, FileFault, delivered
from laiou_assets.ingest.loader import load_delivery
from ops_checks import feeds
from ops_checks.duplicates import repeated_voucher_finding
from tests.scratch import scratch_warehouse

ANOMALIES = [
    "late=tax_payment/2018-07",
    "missing=stats_indicator/2018-08",
    "short=tax_payment/2018-08",
    "skewed=saic_enterprise/2018-09",
    "skewed=saic_shareholder/2018-08",
    "orphans=tax_payment/2018-09",
    "orphans=saic_shareholder/2018-09",
    "repeated=tax_payment/2018-06",
]
FILE_FAULTS = ["missing_column=stats_indicator/2018-06"]
T = feeds.Thresholds()
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _load_zone(landing: Path) -> None:
    for d in sorted(delivered(landing), key=lambda d: (d.period, list(FEEDS).index(d.feed))):
        with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
            try:
                load_delivery(conn, d, landing)
            except FileFault:
                pass  # the schema check must see it all the same


@pytest.fixture(scope="module")
def zones(tmp_path_factory, server_url):
    """{"clean": (landing, url), "faulty": (landing, url)}: nine months, 3,000 enterprises, seed 11."""
    out = {}
    mp = pytest.MonkeyPatch()
    try:
        for name, plan in (("clean", FaultPlan()), ("faulty", FaultPlan.parse([], FILE_FAULTS, ANOMALIES))):
            root = tmp_path_factory.mktemp(name)
            landing = root / "landing"
            generate(
                landing, GeneratorConfig("2018-01", "2018-09", 3_000, seed=11), progress=lambda _: None, faults=plan
            )
            stack = scratch_warehouse(server_url, root, mp, landing)
            env = stack.__enter__()
            _load_zone(landing)
            out[name] = (landing, env["LAIOU_DATABASE_URL"], stack)
        yield {k: v[:2] for k, v in out.items()}
    finally:
        for _, _, stack in out.values():
            stack.__exit__(None, None, None)
        mp.undo()


def both(zones, evaluate):
    """The finding of `evaluate(conn, landing)` on the clean zone and on the faulty zone."""
    found = []
    for name in ("clean", "faulty"):
        landing, url = zones[name]
        with psycopg.connect(url, autocommit=True) as conn:
            found.append(evaluate(conn, landing))
    return found


def manifest(landing: Path, feed: str, period: str) -> dict:
    return json.loads(Delivery(feed, period).manifest_path(landing).read_text(encoding="utf-8"))


def test_late_delivery_fails_freshness_by_the_days_it_was_late(zones):
    clean, faulty = both(
        zones, lambda conn, landing: feeds.delivered_on_time(landing, "tax_payment", "2018-07-01", T, NOW)
    )
    assert clean.passed and not faulty.passed
    produced = datetime.fromisoformat(manifest(zones["faulty"][0], "tax_payment", "201807")["produced_at"])
    due = datetime.fromisoformat("2018-08-20T23:59:59+08:00")
    assert faulty.facts["days_late"] == round((produced - due).total_seconds() / 86400, 1) > 0


def test_missing_delivery_fails_freshness_once_due_and_not_before(zones):
    clean, faulty = both(
        zones, lambda c, landing: feeds.delivered_on_time(landing, "stats_indicator", "2018-08-01", T, NOW)
    )
    assert clean.passed and not faulty.passed and faulty.facts["observed"] == "not delivered"
    before_due = datetime(2018, 9, 20, 15, tzinfo=UTC)  # 23:00 in Shanghai, the due day
    early = feeds.delivered_on_time(zones["faulty"][0], "stats_indicator", "2018-08-01", T, before_due)
    assert early.passed


def test_short_delivery_fails_volume_with_its_rows(zones):
    clean, faulty = both(zones, lambda conn, _: feeds.volume_as_expected(conn, "tax_payment", "2018-08-01", T))
    assert clean.passed and not faulty.passed
    rows = manifest(zones["clean"][0], "tax_payment", "201808")["rows"]
    assert faulty.facts["observed_rows"] == round(rows * 0.3)
    assert "median of trailing months" in faulty.facts["problem"]


@pytest.mark.parametrize("feed, month", [("saic_enterprise", "2018-09-01"), ("saic_shareholder", "2018-08-01")])
def test_skewed_shares_fail_drift(zones, feed, month):
    clean, faulty = both(zones, lambda conn, _: feeds.shares_stable(conn, feed, month, T))
    assert clean.passed, clean.facts
    assert not faulty.passed
    moved = faulty.sample[0]
    assert moved["category"] in ("310151", "65") and moved["share_now"] >= 0.5


def test_every_clean_month_passes_drift_volume_and_references(zones):
    landing, url = zones["clean"]
    with psycopg.connect(url, autocommit=True) as conn:
        for feed in FEEDS:
            for month in range(1, 10):
                key = f"2018-{month:02d}-01"
                for finding in (
                    feeds.shares_stable(conn, feed, key, T),
                    feeds.volume_as_expected(conn, feed, key, T),
                    feeds.references_known(conn, feed, key, T) if feed in feeds.REFERENCES_SQL else None,
                ):
                    assert finding is None or finding.passed, (feed, key, finding.facts)


@pytest.mark.parametrize("feed", ["tax_payment", "saic_shareholder"])
def test_orphan_records_fail_references_by_exactly_the_injected_count(zones, feed):
    clean, faulty = both(zones, lambda conn, _: feeds.references_known(conn, feed, "2018-09-01", T))
    assert clean.passed and not faulty.passed
    rows = manifest(zones["clean"][0], feed, "201809")["rows"]
    assert faulty.facts["unresolved"] - clean.facts["unresolved"] == round(rows * 0.05)
    assert faulty.sample and all(s["why"] for s in faulty.sample)
    if feed == "tax_payment":  # legacy ids are counted, left to R9 (int_tax_vouchers_resolved) to attribute
        ids = pd.read_csv(Delivery(feed, "201809").csv_path(zones["clean"][0]), dtype=str).taxpayer_id
        assert clean.facts["legacy_ids"] == (ids.str.len() == 15).sum() > 0


def test_repeated_vouchers_are_reported_with_their_first_delivery(zones):
    clean, faulty = both(zones, lambda conn, _: repeated_voucher_finding(conn, "2018-06-01"))
    rows = manifest(zones["clean"][0], "tax_payment", "201806")["rows"]
    assert clean.passed and clean.facts["repeated_vouchers"] == 0
    assert not faulty.passed and faulty.facts["repeated_vouchers"] == round(rows * 0.01)
    assert {s["first_delivered"] for s in faulty.sample} == {"2018-05"}


def test_a_delivered_header_off_the_contract_fails_the_schema_check(zones):
    clean, faulty = both(
        zones, lambda conn, landing: feeds.schema_as_contract(conn, landing, "stats_indicator", "2018-06-01")
    )
    assert clean.passed and not faulty.passed
    assert "required column(s) missing from the header: employees" in faulty.facts["problem"]
    with psycopg.connect(zones["clean"][1], autocommit=True) as conn:
        conn.execute("alter table raw.stats_indicator alter column employees type bigint")
        altered = feeds.schema_as_contract(conn, zones["clean"][0], "stats_indicator", "2018-06-01")
        conn.execute("alter table raw.stats_indicator alter column employees type integer")
    assert not altered.passed and "employees is bigint, the contract says integer" in altered.facts["problem"]


def test_thresholds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LAIOU_DUE_DAY", "10")
    monkeypatch.setenv("LAIOU_DUE_DAY_TAX_PAYMENT", "15")
    monkeypatch.setenv("LAIOU_VOLUME_LOW", "0.8")
    t = feeds.Thresholds.from_env()
    assert (t.due_day, t.due_day_of("tax_payment"), t.due_day_of("saic_enterprise"), t.volume_low) == (10, 15, 10, 0.8)
    monkeypatch.setenv("LAIOU_DRIFT_P", "often")
    with pytest.raises(ValueError, match="LAIOU_DRIFT_P='often' is not a number"):
        feeds.Thresholds.from_env()


def test_volume_compares_with_the_same_month_in_earlier_years(laiou_env):
    """Decembers of 3,000 rows, other months 1,000, an initial exchange of 50,000: a December of 1,000 is
    usual against the trailing months but a third of the earlier Decembers."""
    from laiou_assets.migrations import ensure_current

    months = [f"{y}-{m:02d}-01" for y in (2016, 2017, 2018) for m in range(1, 13)]
    rows = {key: 50_000 if i == 0 else 3_000 if key[5:7] == "12" else 1_000 for i, key in enumerate(months)}
    rows["2018-12-01"] = 1_000
    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        ensure_current(conn)
        for key, n in rows.items():
            conn.execute(
                "insert into audit.load_log (feed, period, file, rows, loaded, started_at, outcome) "
                "values ('tax_payment', %s, 'f.csv', %s, %s, now(), 'loaded')",
                [key, n, n],
            )
        december = feeds.volume_as_expected(conn, "tax_payment", "2018-12-01", T)
        november = feeds.volume_as_expected(conn, "tax_payment", "2018-11-01", T)
    assert not december.passed
    assert december.facts["median_of_trailing_months"] == 1_000
    assert december.facts["median_of_same_month_in_earlier_years"] == 3_000
    assert "0.33× the median of same month in earlier years" in december.facts["problem"]
    assert november.passed and november.facts["median_of_same_month_in_earlier_years"] == 1_000
