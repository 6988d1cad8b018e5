"""The generator: the seed scale's figures, every feature of the contract, injected faults, corrections."""

import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from laiou_assets.contract import FEEDS
from laiou_assets.generate.faults import FILE_FAULTS, FaultPlan
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.generate.weights import LAIOU_CUMULATIVE_2018, LAIOU_NEW_2018
from laiou_assets.ingest.landing import Delivery, FileFault, Waiting, delivered
from laiou_assets.ingest.loader import load_delivery
from laiou_assets.resources import WarehouseResource
from tests.recount import current_enterprises, indirect_enterprises, read_feed, summary_by_year

SMALL = GeneratorConfig("2018-10", "2018-12", 3_000, seed=13)


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def seed_scale_zone(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seed") / "landing"
    generate(out, GeneratorConfig.seed_scale(0.001, seed=11), progress=quiet)
    return out


def test_seed_scale_reproduces_the_2018_laiou_figures_when_recounted_by_the_rules(seed_scale_zone):
    cfg = GeneratorConfig.seed_scale(0.001, seed=11)
    assert (cfg.first_month, cfg.last_month) == ("2010-01", "2018-12")
    recount = summary_by_year(seed_scale_zone).set_index("year")
    assert recount.index.min() == 2010 and recount.index.max() == 2018
    assert recount.loc[2018, "cumulative"] == round(LAIOU_CUMULATIVE_2018 * 0.001) == 1250
    assert recount.loc[2018, "new"] == round(LAIOU_NEW_2018 * 0.001) == 218
    assert (recount.cumulative.diff().dropna() >= 0).all()  # history: the population grows year on year
    assert recount.loc[2017, "tax_wan"] > 0 and recount.loc[2015, "tax_wan"] == 0  # tax deliveries from 2018-01
    assert (seed_scale_zone / "tax_payment" / "201801").exists()
    assert not (seed_scale_zone / "tax_payment" / "201712").exists()


def test_the_zone_has_every_feature_the_contract_names(seed_scale_zone):
    formats = json.loads((seed_scale_zone.parent / "landing.sidecar" / "generated.json").read_text())["formats"]
    raw = {where: Delivery(*where.split("/")).csv_path(seed_scale_zone).read_bytes() for where in formats}
    assert any(data.startswith(b"\xef\xbb\xbf") for data in raw.values())  # UTF-8 with BOM
    assert any(b"\r\n" in data for data in raw.values()) and any(b"\r\n" not in data for data in raw.values())
    gb18030 = [w for w, f in formats.items() if f["encoding"] == "GB18030" and w.startswith("saic")]
    assert gb18030 and "有限公司".encode("gb18030") in raw[gb18030[0]]

    ent = read_feed(seed_scale_zone, "saic_enterprise")
    names = ent.name
    assert names.str.contains(",").any() and names.str.contains('"').any() and names.str.contains("\n").any()
    assert (ent.reg_no != "").any() and ent.district_code.isin(["310103", "310108", "310119", "310230"]).any()  # R2
    assert ent.status.isin(["2", "3", "4"]).any() and (ent.parent_uscc != "").any()

    # R9: legacy taxpayer ids, some matching one enterprise, some two (ambiguous), some none.
    tax = read_feed(seed_scale_zone, "tax_payment")
    orgs = Counter(u[8:17] for u in ent.uscc.unique())
    legacy = tax.taxpayer_id[tax.taxpayer_id.str.len() == 15].str[6:].map(lambda org: orgs.get(org, 0))
    assert set(legacy) == {0, 1, 2}
    assert (tax.amount.str.startswith("-")).any()  # refunds

    # R7 ties: two investors of one list subscribed the same largest amount.
    sh = read_feed(seed_scale_zone, "saic_shareholder")
    sh["cap"] = sh.subscribed_capital.astype(float)
    top = sh.groupby(["uscc", "_period"]).cap.transform("max")
    assert (sh[sh.cap == top].groupby(["uscc", "_period"]).size() > 1).any()
    assert (sh.investor_country != "CHN").any() and sh.investor_uscc.str[2:8].eq("100000").any()
    persons = sh[sh.investor_type == "P"]
    assert len(persons) and persons.investor_name.str.endswith("**").all()  # masked at source

    # R10: levels 2 to 5 reached, a chain that goes on beyond the stop, and a cycle.
    _, largest = current_enterprises(seed_scale_zone)
    indirect = indirect_enterprises(seed_scale_zone)
    assert set(indirect.level) == {2, 3, 4, 5}
    parent = dict(zip(largest.uscc, largest.investor_uscc, strict=True))
    level5 = set(indirect[indirect.level == 5].uscc)
    assert any(parent.get(u) in level5 for u in parent)  # a level-6 candidate, not 来沪
    assert any(parent.get(parent.get(parent.get(u))) == u != parent.get(u) for u in parent)  # a 3-cycle

    # R13: an enterprise missing a month of the year between two it reported.
    stats = read_feed(seed_scale_zone, "stats_indicator")
    months = stats.assign(m=stats.period.astype(int)).groupby("uscc").m.agg(["min", "max", "size"])
    assert ((months["max"] - months["min"] + 1) > months["size"]).any()


def test_the_same_seed_gives_byte_identical_files_and_sidecar(tmp_path):
    plan = FaultPlan.parse(["all=0.01"], ["undecodable=tax_payment/2018-11"])
    for name in ("a", "b"):
        generate(tmp_path / name, SMALL, progress=quiet, faults=plan)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 24  # 4 feeds × 3 months × (CSV + manifest)
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    sidecars = [(tmp_path / f"{name}.sidecar").rglob("*.*") for name in ("a", "b")]
    a, b = (sorted(p.relative_to(tmp_path / f"{n}.sidecar") for p in s) for n, s in zip("ab", sidecars, strict=True))
    assert a == b and len(a) > 1  # generated.json and first deliveries
    for rel in a:
        assert (tmp_path / "a.sidecar" / rel).read_bytes() == (tmp_path / "b.sidecar" / rel).read_bytes(), rel


def load(landing: Path, delivery: Delivery):
    with psycopg.connect(WarehouseResource().url(), autocommit=True) as conn:
        return load_delivery(conn, delivery, landing)


def test_injected_row_faults_are_at_their_rate_and_quarantined_exactly_there(laiou_env):
    landing = laiou_env["landing"]
    rate = 0.01
    generate(landing, SMALL, progress=quiet, faults=FaultPlan.parse([f"all={rate}"], []))
    sidecar = json.loads((landing.parent / "landing.sidecar" / "generated.json").read_text())
    injected = pd.DataFrame(sidecar["row_faults"])

    for delivery in delivered(landing):
        manifest = json.loads(delivery.manifest_path(landing).read_text())
        mine = injected[(injected.feed == delivery.feed) & (injected.period == delivery.period)]
        counts = Counter(mine.reason)
        for reason in sidecar["row_fault_rates"]:
            applicable = not (reason == "unknown_code" and delivery.feed == "stats_indicator")  # no coded column
            assert counts[reason] == (round(rate * manifest["rows"]) if applicable else 0), (delivery, reason)
        result = load(landing, delivery)
        assert result.loaded + result.quarantined == manifest["rows"]
        assert result.quarantined_by_reason == {r: c for r, c in counts.items() if c}, delivery

    with psycopg.connect(WarehouseResource().url()) as conn:
        quarantined = conn.execute(
            "select feed, to_char(period, 'YYYYMM'), line_no, reason from audit.quarantine"
        ).fetchall()
    assert sorted(quarantined) == sorted(
        injected[["feed", "period", "line", "reason"]].itertuples(index=False, name=None)
    )
    assert len(quarantined) > 100


EXPECTED_MESSAGES = {
    "manifest_unreadable": "manifest unreadable",
    "csv_missing": "CSV missing",
    "sha256_mismatch": "does not match the manifest's",
    "missing_column": "required column(s) missing from the header:",
    "unknown_column": "unknown column(s) in the header: remark",
    "undecodable": "bytes not valid",
    "row_count": "data rows, the manifest says",
    "control_total": "control total of",
}


def test_each_injected_file_fault_fails_its_month_naming_the_file_and_the_fault(laiou_env):
    landing = laiou_env["landing"]
    deliveries = [(feed, month) for month in ("2018-10", "2018-11", "2018-12") for feed in FEEDS]
    faults = [f"{fault}={feed}/{month}" for fault, (feed, month) in zip(FILE_FAULTS, deliveries, strict=False)]
    generate(landing, SMALL, progress=quiet, faults=FaultPlan.parse([], faults))
    sidecar = json.loads((landing.parent / "landing.sidecar" / "generated.json").read_text())
    assert [f["fault"] for f in sidecar["file_faults"]] and {f["fault"] for f in sidecar["file_faults"]} == set(
        FILE_FAULTS
    )

    for done in sidecar["file_faults"]:
        delivery = Delivery(done["feed"], done["period"])
        if done["fault"] == "manifest_missing":
            with pytest.raises(Waiting):
                load(landing, delivery)
            continue
        with pytest.raises(FileFault) as failure:
            load(landing, delivery)
        message = str(failure.value)
        assert EXPECTED_MESSAGES[done["fault"]] in message and f"{delivery.feed}_{delivery.period}" in message
        if done["fault"] == "undecodable":
            assert f".csv:{done['line']}:" in message
        with psycopg.connect(WarehouseResource().url()) as conn:
            rows = conn.execute(
                f"select count(*) from raw.{delivery.feed} where _period = %s", [delivery.period_date]
            ).fetchone()
        assert rows[0] == 0
    with psycopg.connect(WarehouseResource().url()) as conn:
        failed = conn.execute("select count(*) from audit.load_log where outcome = 'failed'").fetchone()[0]
    assert failed == len(FILE_FAULTS) - 1  # all but the missing manifest, which is waiting


def test_a_corrected_month_replaces_its_first_delivery(laiou_env):
    landing = laiou_env["landing"]
    generate(landing, SMALL, progress=quiet)
    sidecar_dir = landing.parent / "landing.sidecar"
    corrections = json.loads((sidecar_dir / "generated.json").read_text())["corrections"]
    assert {"feed": "tax_payment", "period": "201811"} in [{k: c[k] for k in ("feed", "period")} for c in corrections]
    corrected = landing.parent / "corrected"
    shutil.copytree(landing, corrected)
    for c in corrections:  # the bureaus' first deliveries, then their corrections
        delivery = Delivery(c["feed"], c["period"])
        first = sidecar_dir / "first_deliveries"
        for path in (delivery.csv_path, delivery.manifest_path):
            shutil.copy(path(first), path(landing))
        assert load(landing, delivery).loaded == c["first_rows"] < c["rows"]
        assert load(corrected, delivery).loaded == c["rows"]
        with psycopg.connect(WarehouseResource().url()) as conn:
            table = f"raw.{c['feed']}"
            count = conn.execute(f"select count(*) from {table} where _period = %s", [delivery.period_date]).fetchone()
        assert count[0] == c["rows"]
