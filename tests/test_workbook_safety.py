"""Workbooks are data, never code (issue #19): the districts' Excel packages hold hostile enterprise names as
text, control characters visibly replaced, and one district's failure never costs the others their files."""

import re
import zipfile
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from openpyxl import load_workbook

from laiou_assets import settings
from laiou_assets.access import current_districts
from laiou_assets.definitions import defs
from laiou_assets.exports.district_packages import package_path, write_district_packages
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.running import run_everything
from tests.scratch import scratch_warehouse

MONTH = date(2018, 12, 1)
ENTERPRISES_SHEET = "来沪企业 enterprises"
# name in the marts → what the workbook shows: the same text, control characters as U+FFFD
HOSTILE = {
    '=HYPERLINK("http://x","click")': '=HYPERLINK("http://x","click")',
    "=cmd|' /C calc'!A0": "=cmd|' /C calc'!A0",
    "控制\x01字符有限公司": "控制\ufffd字符有限公司",
    "+SUM(1,2)": "+SUM(1,2)",
    "-2+3": "-2+3",
    "@SUM(A1:A2)": "@SUM(A1:A2)",
    "\t=1+1": "\t=1+1",
    "\r=1+1\x7f": "\ufffd=1+1\ufffd",
}
FORMULA_ELEMENT = re.compile(rb"<(\w+:)?f[ >/]")


@pytest.fixture(scope="module")
def built(tmp_path_factory, server_url):
    """Marts built once by `laiou run` from one small month; then eight 来沪 enterprises, in as many
    districts as there are, get hostile names in marts.dim_enterprise, whatever ingestion lets through."""
    home = tmp_path_factory.mktemp("workbooks")
    landing = home / "landing"
    generate(landing, GeneratorConfig("2018-12", "2018-12", 300, seed=19), progress=lambda _: None)
    with pytest.MonkeyPatch.context() as mp, scratch_warehouse(server_url, home, mp, landing) as env:
        assert run_everything() == 0
        url = env["LAIOU_DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as conn:
            usccs = [
                uscc
                for (uscc,) in conn.execute(
                    "select uscc from marts.dim_enterprise where laiou_kind is not null "
                    "order by row_number() over (partition by district_code order by uscc), district_code limit %s",
                    [len(HOSTILE)],
                )
            ]
            assert len(usccs) == len(HOSTILE)
            hostile = {}
            for uscc, name in zip(usccs, HOSTILE, strict=True):
                conn.execute("update marts.dim_enterprise set name = %s where uscc = %s", [name, uscc])
                district = conn.execute(
                    "select district_code from marts.dim_enterprise where uscc = %s", [uscc]
                ).fetchone()[0]
                hostile[uscc] = (district, HOSTILE[name])
        yield url, hostile


def formulas_in(path: Path) -> list[str]:
    """The sheets of a workbook whose XML holds a formula element."""
    with zipfile.ZipFile(path) as book:
        return [n for n in book.namelist() if n.startswith("xl/worksheets/") and FORMULA_ELEMENT.search(book.read(n))]


def test_hostile_names_are_text_in_every_districts_workbook_and_nothing_is_a_formula(built, tmp_path):
    url, hostile = built
    with psycopg.connect(url, autocommit=True) as conn:
        written = write_district_packages(conn, MONTH, tmp_path)
    assert sorted(written) == sorted(package_path(tmp_path, MONTH, d) for d in current_districts())
    for path in written:
        assert formulas_in(path) == [], path
        for sheet in load_workbook(path).worksheets:
            assert [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"] == [], path

    for uscc, (district, shown) in hostile.items():
        sheet = load_workbook(package_path(tmp_path, MONTH, district))[ENTERPRISES_SHEET]
        [name] = [row[1] for row in sheet.iter_rows(min_row=3) if row[0].value == uscc]
        assert name.data_type == "s" and name.value == shown, uscc
        assert name.quotePrefix == shown.startswith(("=", "+", "-", "@", "\t")), uscc  # Excel's leading apostrophe


def test_one_districts_failure_leaves_every_other_district_its_workbook_and_fails_naming_it(built):
    districts = current_districts()
    blocked = districts[len(districts) // 2]
    exports = settings.laiou_home() / "exports"
    for path in exports.glob(f"{MONTH:%Y%m}/*.xlsx"):
        path.unlink()  # those `laiou run` wrote
    # The blocked district's workbook cannot be written: a folder stands where its file is written first.
    package_path(exports, MONTH, blocked).with_suffix(".xlsx.partial").mkdir(parents=True)

    result = (
        defs()
        .resolve_job_def("export_district_packages")
        .execute_in_process(partition_key=f"{MONTH:%Y-%m-%d}", instance=dg.DagsterInstance.get(), raise_on_error=False)
    )
    assert not result.success
    [failure] = result.get_step_failure_events()
    user_failure = failure.step_failure_data.user_failure_data
    assert blocked in user_failure.description
    assert user_failure.metadata["failed_districts"].value == blocked
    assert user_failure.metadata["workbooks"].value == len(districts) - 1
    for district in districts:
        assert package_path(exports, MONTH, district).exists() == (district != blocked), district
