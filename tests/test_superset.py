"""Superset (issue #16) in a real browser: `make bi`'s Superset on a built warehouse, its dashboards imported
from the repo, users made with `laiou bi user`, and headless Chromium (Debian's, driven by Playwright)
logged in as a district officer and as a commission officer. The figures shown are the marts'; the district's
chart data holds its own enterprises only; the commission sees no enterprise row; one open is one view in
the inspection report."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml

from laiou_assets import settings
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.running import run_everything
from laiou_assets.superset import launch
from laiou_assets.usage import dashboard_views
from ops_checks.inspection_report import build_monthly_report
from tests.marts_access import fetch
from tests.scratch import scratch_warehouse

LAIOU = str(Path(sys.executable).parent / "laiou")
DISTRICT = "310101"  # 黄浦区
PASSWORDS = {"huangpu": "huangpu-pass-1", "fgw": "commission-pass-1", "office": "office-pass-1"}


def install_superset() -> subprocess.Popen | None:
    """`make bi` in the background when .venv-bi is missing (about two minutes), while the warehouse builds."""
    if (launch.BI_VENV / ".installed-stamp").exists():
        return None
    return subprocess.Popen(
        ["make", "bi"], cwd=settings.PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def chromium() -> str:
    """Debian's chromium; installed here when the tests run as root with apt (CI), else the test says how."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-noto-cjk"],
            capture_output=True,
            text=True,
        )
        if shutil.which("chromium"):
            return shutil.which("chromium")
        pytest.fail(f"installing chromium failed: {done.stderr[-500:]}")
    pytest.fail("these tests need Debian's chromium: sudo apt-get install chromium fonts-noto-cjk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def superset(tmp_path_factory, server_url):
    """A warehouse of two months across a new year, Superset prepared on it and serving, three users."""
    installing = install_superset()
    home = tmp_path_factory.mktemp("superset")
    landing = home / "landing"
    generate(landing, GeneratorConfig("2017-12", "2018-01", 1500, seed=5), progress=lambda _: None)
    with pytest.MonkeyPatch.context() as mp, scratch_warehouse(server_url, home, mp, landing) as env:
        assert run_everything() == 0
        if installing is not None:
            out, _ = installing.communicate(timeout=900)
            assert installing.returncode == 0, f"make bi failed:\n{out[-3000:]}"
        url = env["LAIOU_DATABASE_URL"]
        server_env = launch.prepare(url, lambda _: None)  # as `laiou bi serve` does before it serves
        for name, role in (("huangpu", f"district:{DISTRICT}"), ("fgw", "commission"), ("office", "office")):
            done = subprocess.run(
                [LAIOU, "bi", "user", name, "--role", role],
                input=PASSWORDS[name] + "\n",
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
        port = free_port()
        log = open(home / "superset.log", "w")  # noqa: SIM115
        server = subprocess.Popen(launch.gunicorn_argv("127.0.0.1", port), env=server_env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as answer:
                    if answer.read() == b"OK":
                        break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"Superset did not answer on {base}/health: {(home / 'superset.log').read_text()[-2000:]}")
        try:
            yield {"url": url, "base": base, "home": home, "landing": landing}
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


@pytest.fixture(scope="module")
def browser(superset):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


def logged_in(browser, base: str, user: str):
    # Tall enough for every chart of a dashboard: Superset renders (and queries) only charts in view.
    page = browser.new_page(viewport={"width": 1500, "height": 3200}, locale="zh-CN")
    page.goto(f"{base}/login/")
    page.wait_for_selector("#username")
    page.fill("#username", user)
    page.fill("#password", PASSWORDS[user])
    page.keyboard.press("Enter")
    page.wait_for_url("**/superset/welcome/**", timeout=60_000)
    return page


def charts_of(slug: str) -> int:
    layout = yaml.safe_load((launch.BUNDLE / "dashboards" / f"{slug}.yaml").read_text(encoding="utf-8"))["position"]
    return sum(1 for item in layout.values() if isinstance(item, dict) and item.get("type") == "CHART")


def open_dashboard(page, base: str, slug: str) -> tuple[int, list[dict]]:
    """Opens the dashboard as a reader would; its HTTP status and the rows of every chart query it made,
    once each of its charts has answered. Bodies are read as they arrive: the dashboard rewrites its URL
    (native filters), after which the browser no longer holds them."""
    rows: list[dict] = []
    charts_answered = []

    def listen(answer) -> None:
        if "/api/v1/chart/data" not in answer.url:
            return
        if "form_data" in (answer.request.post_data or ""):
            charts_answered.append(answer.status)
        if answer.ok:
            for result in answer.json().get("result", []):
                rows.extend(result.get("data") or [])

    page.on("response", listen)
    response = page.goto(f"{base}/superset/dashboard/{slug}/")
    if response.ok:
        deadline = time.monotonic() + 90
        while len(charts_answered) < charts_of(slug):
            assert time.monotonic() < deadline, f"{slug}: not every chart answered"
            page.wait_for_timeout(500)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", listen)
    return response.status, rows


def test_a_district_officer_sees_the_citys_figures_and_only_their_districts_enterprises(superset, browser):
    url, base = superset["url"], superset["base"]
    page = logged_in(browser, base, "huangpu")
    # Nothing leaves this server from a reader's browser: Superset's telemetry pixel (scarf.sh) is refused
    # by the content security policy before any connection (not merely unanswered on an offline machine).
    elsewhere, refused = set(), set()
    page.on("request", lambda r: elsewhere.add(r.url) if not r.url.startswith((base, "data:", "blob:")) else None)
    page.on("requestfailed", lambda r: refused.add(r.url) if "csp" in (r.failure or "").lower() else None)
    ((year, cumulative, active, new, exited, tax_wan),) = fetch(
        url,
        "select year, cumulative, active, new, exited, tax_wan from marts.mart_laiou_summary_year "
        "order by year desc limit 1",
    )
    status, _ = open_dashboard(page, base, "overview")
    assert status == 200
    page.get_by_text(f"{cumulative:,}", exact=True).first.wait_for(timeout=60_000)  # drawn, not only fetched
    page.screenshot(path=str(superset["home"] / "overview.png"), full_page=True)
    shown = page.inner_text("body")
    for figure in (f"{cumulative:,}", f"{active:,}", f"{new:,}", f"{exited:,}", f"{tax_wan:,.2f}"):
        assert figure in shown, f"{figure} ({year}) is not on 总览"

    status, rows = open_dashboard(page, base, "enterprise")
    assert status == 200
    page.screenshot(path=str(superset["home"] / "enterprise.png"), full_page=True)
    enterprises = "from marts.dim_enterprise where district_code"
    own = {u for (u,) in fetch(url, f"select uscc {enterprises} = %s", params=[DISTRICT])}
    others = fetch(url, f"select count(*) {enterprises} <> %s", params=[DISTRICT])[0][0]
    seen = {row["uscc"] for row in rows if row.get("uscc")}
    assert others > 0 and len(seen) > 20  # the test can fail: other districts' enterprises exist
    assert seen <= own, f"{len(seen - own)} enterprises of other districts in the district's chart data"
    assert {row["district_name"] for row in rows if "district_name" in row} == {"黄浦区"}
    assert elsewhere <= refused, elsewhere - refused

    # Aggregates stay whole for a district: the divisions' chart reads a mart, not its enterprises.
    status, rows = open_dashboard(page, base, "industries")
    assert status == 200
    by_division = [r for r in rows if {"行业大类", "年度", "active"} <= r.keys() and r["年度"] == year]
    by_year = "select sum(active) from marts.mart_laiou_by_division_year where year = %s"
    expected = fetch(url, by_year, params=[year])[0][0]
    assert by_division and sum(r["active"] for r in by_division) == expected == active
    page.close()


def test_a_commission_officer_gets_aggregates_and_no_enterprise_row(superset, browser):
    base = superset["base"]
    page = logged_in(browser, base, "fgw")
    titles = {
        d["dashboard_title"] for d in page.request.get(f"{base}/api/v1/dashboard/?q=(page_size:100)").json()["result"]
    }
    assert {"总览 / Overview", "来源省份 / Source provinces", "区 / Districts", "行业 / Industries"} <= titles
    assert not titles & {"企业查询 / Find an enterprise", "数据质量 / Data quality (数据组)"}
    status, rows = open_dashboard(page, base, "enterprise")
    assert status == 404 and rows == []
    metadata = launch.metadata_url(superset["url"])
    enterprise = fetch(metadata, "select id from tables where table_name = 'dim_enterprise'")[0][0]
    token = page.request.get(f"{base}/api/v1/security/csrf_token/").json()["result"]
    answer = page.request.post(
        f"{base}/api/v1/chart/data",
        headers={"X-CSRFToken": token, "Referer": base},
        data={
            "datasource": {"id": enterprise, "type": "table"},
            "queries": [{"columns": ["uscc", "name"], "row_limit": 10}],
            "result_format": "json",
            "result_type": "full",
        },
    )
    assert answer.status == 403 and "uscc" not in answer.text()
    status, rows = open_dashboard(page, base, "provinces")
    assert status == 200 and rows and not any("uscc" in row for row in rows)
    page.close()


def test_one_dashboard_open_is_one_view_in_the_inspection_report(superset, browser):
    url, base = superset["url"], superset["base"]
    before = {(r[1], r[2]): r[3] for r in dashboard_views(url) or []}
    page = logged_in(browser, base, "office")
    status, _ = open_dashboard(page, base, "districts")
    assert status == 200
    page.wait_for_timeout(2000)  # the front end posts its log a moment after the dashboard mounts
    page.close()
    views = dashboard_views(url)
    after = {(r[1], r[2]): r[3] for r in views}
    key = ("laiou_office", "区 / Districts")
    assert after[key] - before.get(key, 0) == 1
    with psycopg.connect(url) as conn:
        report = build_monthly_report(
            conn, dg.DagsterInstance.get(), superset["landing"], "2018-01-01", datetime.now(UTC), views
        )
    section = next(s for s in report.sections if s.title.startswith("看板浏览"))
    month = views[-1][0]
    assert [month, "办公室 office", "区 / Districts", after[key]] in section.rows
    assert report.figures["dashboard_views"] == sum(n for m, *_, n in views if m == month)


def test_the_bundle_is_imported_again_without_duplicates_and_a_changed_chart_replaces_the_old(superset, tmp_path):
    url = superset["url"]
    metadata = launch.metadata_url(url)
    counts = "select (select count(*) from dashboards), (select count(*) from slices), (select count(*) from tables)"
    first = fetch(metadata, counts)
    bundle = tmp_path / "bundle"
    shutil.copytree(launch.BUNDLE, bundle)
    chart = bundle / "charts" / "overview_cumulative.yaml"
    changed = yaml.safe_load(chart.read_text(encoding="utf-8"))
    changed["slice_name"] = "累计（户）/ cumulative, renamed"
    chart.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    launch.provision(url, launch.environment(url), bundle)  # what every start of `laiou bi serve` does last
    assert fetch(metadata, counts) == first == [(6, len(list(launch.BUNDLE.glob("charts/*.yaml"))), 13)]
    assert fetch(metadata, "select slice_name from slices where uuid::text = %s", params=[changed["uuid"]]) == [
        (changed["slice_name"],)
    ]  # the module's last use of the dashboards: the renamed chart stays


def test_laiou_bi_explains_a_wrong_role_a_bad_name_and_a_busy_port_in_one_line(superset):
    def laiou_bi(*args: str, stdin: str = "long-enough-pass\n") -> subprocess.CompletedProcess:
        return subprocess.run([LAIOU, "bi", *args], input=stdin, capture_output=True, text=True)

    wrong = laiou_bi("user", "someone", "--role", "district:999999")
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("laiou bi user: '999999' is not a current district code (R2): 310101, ")
    for name in ("", "a b"):
        bad = laiou_bi("user", name, "--role", "office")
        assert bad.returncode == 2 and f"laiou bi user: {name!r} is not a user name" in bad.stderr
    busy = laiou_bi("serve", "--port", superset["base"].rsplit(":", 1)[1])  # Superset serves there already
    assert busy.returncode == 2 and busy.stderr.startswith("laiou bi serve: 127.0.0.1:") and "is in use" in busy.stderr
    assert all("Traceback" not in done.stderr for done in (wrong, bad, busy))


def test_laiou_serve_supervises_superset_once_installed_or_when_asked(monkeypatch, tmp_path):
    from laiou_assets import serve

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # where the group's workspace file is written

    def children(value: str) -> dict[str, list[str]]:
        monkeypatch.setenv("LAIOU_BI_SERVE", value)
        return {child.name: child.argv for child in serve.children("127.0.0.1", 3000, 4266, tmp_path)}

    assert "superset" not in children("off")
    assert children("on")["superset"][-2:] == ["bi", "serve"]
    assert ("superset" in children("auto")) == launch.installed()
    monkeypatch.setenv("LAIOU_BI_SERVE", "maybe")
    with pytest.raises(settings.SettingError, match="LAIOU_BI_SERVE='maybe' is not one of auto, on, off"):
        settings.current()


def test_superset_keeps_its_secret_its_metadata_apart_and_no_default_administrator(superset):
    url = superset["url"]
    secret = launch.state_dir() / "secret_key"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text().strip()) >= 40
    metadata = launch.metadata_url(url)
    # Superset's tables are in its own database, none in the warehouse's.
    assert fetch(url, "select to_regclass('public.logs'), to_regclass('public.dashboards')") == [(None, None)]
    ((uri, allow_dml),) = fetch(metadata, "select sqlalchemy_uri, allow_dml from dbs")
    assert uri.startswith("postgresql+psycopg2://laiou_bi") and not allow_dml
    admins = fetch(
        metadata,
        "select u.username, u.active from ab_user u join ab_user_role ur on ur.user_id = u.id "
        "join ab_role r on r.id = ur.role_id where r.name = 'Admin'",
    )
    assert admins == [("laiou-provisioner", False)]  # nobody can sign in as an administrator until one is made
