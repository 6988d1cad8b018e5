"""One real PostgreSQL for the whole test session (embedded, or LAIOU_DATABASE_URL); a database per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from laiou_assets import warehouse
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from tests.scratch import scratch_warehouse


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
    with scratch_warehouse(server_url, tmp_path, monkeypatch) as env:
        yield env


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory) -> Path:
    """Three months, 2,000 enterprises, fixed seed: the end-to-end data set."""
    out = tmp_path_factory.mktemp("landing_small")
    generate(out, GeneratorConfig("2018-10", "2018-12", 2_000, seed=7), progress=lambda _: None)
    return out
