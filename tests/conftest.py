"""One real PostgreSQL for the whole test session (embedded, or LAIOU_DATABASE_URL); a database per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

from laiou_assets import warehouse
from laiou_assets.generate.landing_zone import GeneratorConfig, generate


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    external = os.environ.get("LAIOU_DATABASE_URL")
    if external:
        yield external
        return
    home = tmp_path_factory.mktemp("laiou_home")
    server = warehouse.EmbeddedServer(home / "pg")
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def laiou_env(tmp_path, server_url, monkeypatch) -> dict:
    """A fresh database, LAIOU_HOME, landing zone and Dagster instance for one test."""
    dbname = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{dbname}"')
    url = warehouse.with_dbname(server_url, dbname)
    env = {
        "LAIOU_DATABASE_URL": url,
        "LAIOU_HOME": str(tmp_path / "home"),
        "LAIOU_LANDING_DIR": str(tmp_path / "landing"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield {**env, "landing": Path(env["LAIOU_LANDING_DIR"])}
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{dbname}" with (force)')


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory) -> Path:
    """Three months, 2,000 enterprises, fixed seed: the end-to-end data set."""
    out = tmp_path_factory.mktemp("landing_small")
    generate(out, GeneratorConfig("2018-10", "2018-12", 2_000, seed=7), progress=lambda _: None)
    return out
