"""One real PostgreSQL for the whole test session (embedded, or LAIOU_DATABASE_URL); a database per test."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from laiou_assets import warehouse
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from tests.scratch import scratch_warehouse


@pytest.fixture(scope="session", autouse=True)
def never_the_projects_own_warehouse(tmp_path_factory):
    """Local state defaults to a temporary home for the whole session, so a test that loses its scratch
    environment can never write into the developer's `.laiou` (the warehouse `make demo` filled)."""
    home = tmp_path_factory.mktemp("default_home")
    saved = {k: os.environ.get(k) for k in ("LAIOU_HOME", "DAGSTER_HOME", "LAIOU_LANDING_DIR")}
    os.environ["LAIOU_HOME"] = str(home)
    os.environ.pop("DAGSTER_HOME", None)
    os.environ.pop("LAIOU_LANDING_DIR", None)
    yield
    warehouse.EmbeddedServer(home / "pg").stop()  # started only if a test fell back to the default
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    external = os.environ.get("LAIOU_DATABASE_URL")
    if external:
        yield external
        return
    home = tmp_path_factory.mktemp("laiou_home")
    server = warehouse.EmbeddedServer(home / "pg")
    url = server.start()
    # A test's data is thrown away with its server: no flush to disk at each commit. Two workers' flushes
    # queue for the same disk behind Dagster's many small event writes (a small `laiou run` beside a
    # running suite: 67 s -> 51 s; alone, 31 s either way). A killed process still loses nothing: the
    # server writes to the OS either way, only a crash of the machine would.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter system set fsync = off")
        conn.execute("alter system set full_page_writes = off")
        conn.execute("select pg_reload_conf()")
    yield url
    server.stop()


@pytest.fixture
def laiou_env(tmp_path, server_url, monkeypatch) -> dict:
    """A fresh database, LAIOU_HOME, landing zone and Dagster instance for one test."""
    with scratch_warehouse(server_url, tmp_path, monkeypatch) as env:
        yield env


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory) -> Path:
    """Three months, 2,000 enterprises, fixed seed: the end-to-end data set."""
    out = tmp_path_factory.mktemp("landing_small")
    generate(out, GeneratorConfig("2018-10", "2018-12", 2_000, seed=7), progress=lambda _: None)
    return out


# The longest files first: pytest-xdist (--dist loadfile) hands files to the workers in collection order, so a
# long file collected last (the soak test, alphabetically late) ran alone at the end while the other worker idled.
LONGEST_FIRST = [
    "test_soak.py",
    "test_superset.py",
    "test_incremental.py",
    "test_failure_stays_visible.py",
    "test_operations.py",
    "test_analysis.py",
    "test_end_to_end.py",
    "test_access.py",
]


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable: a file keeps its order
