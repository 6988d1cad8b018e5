"""Dagster resources: the warehouse and the landing zone.

Fields default to None and fall back to the environment (LAIOU_DATABASE_URL, LAIOU_LANDING_DIR) when the
resource is used, not when definitions load: both variables are optional by contract, and dg.EnvVar
fails for an unset variable.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg

from laiou_assets import settings, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """PostgreSQL warehouse 数据仓库: LAIOU_DATABASE_URL, else the embedded server under $LAIOU_HOME/pg."""

    database_url: str | None = None

    def url(self) -> str:
        return self.database_url or warehouse.database_url()

    def connect(self) -> psycopg.Connection:
        """An autocommit connection: callers open their own transactions."""
        return psycopg.connect(self.url(), autocommit=True)


class LandingZoneResource(dg.ConfigurableResource):
    """Landing zone 落地区 of the bureaus' deliveries (feeds.md); default $LAIOU_HOME/landing."""

    path: str | None = None

    def root(self) -> Path:
        return Path(self.path) if self.path else settings.landing_dir()
