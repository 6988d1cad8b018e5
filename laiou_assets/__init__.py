"""laiou — 各地来沪投资数据采集与统计分析系统 (Dagster + dbt data platform)."""
