"""What each dbt test checks, in a sentence a person reads (中文 / English), from dbt's manifest: the test's own
description where it has one, else one made from the generic test and its arguments. Used by incidents,
alerts and the inspection report, where a bare test id such as `expression_is_true_dim_enterprise_…` says
nothing to the office."""

from __future__ import annotations

import json
import re
from functools import cache

from laiou_assets import settings


@cache
def _tests() -> dict[str, dict]:
    path = settings.DBT_TARGET_DIR / "manifest.json"
    if not path.exists():
        return {}
    nodes = json.loads(path.read_text(encoding="utf-8"))["nodes"].values()
    return {node["name"]: node for node in nodes if node["resource_type"] == "test"}


def _model(node: dict) -> str:
    return (node.get("attached_node") or "").rsplit(".", 1)[-1] or "the model"


def _ref_name(text: str) -> str:
    found = re.search(r"ref\(['\"](\w+)['\"]\)", text or "")
    return found.group(1) if found else text


def meaning(test_name: str) -> str | None:
    """The sentence for a dbt test, or None when the name is not a dbt test."""
    node = _tests().get(test_name)
    return None if node is None else sentence(node)


def sentence(node: dict) -> str:
    """The sentence for a dbt test's manifest node: its description, else one made from its generic test."""
    test_name = node["name"]
    if node.get("description"):
        return " ".join(node["description"].split())
    metadata = node.get("test_metadata") or {}
    kwargs, model = metadata.get("kwargs", {}), _model(node)
    column = kwargs.get("column_name") or node.get("column_name")
    kind = metadata.get("name")
    if kind == "not_null":
        return f"非空 / {model}.{column} is never empty"
    if kind == "unique":
        return f"唯一 / {model}.{column} is unique"
    if kind == "relationships":
        return f"关联 / every {model}.{column} is a {_ref_name(kwargs.get('to'))}.{kwargs.get('field')}"
    if kind == "accepted_values":
        return f"取值 / {model}.{column} is one of {', '.join(map(str, kwargs.get('values', [])))}"
    if kind == "unique_combination":
        return f"组合唯一 / ({', '.join(kwargs.get('columns', []))}) is unique in {model}"
    if kind == "expression_is_true":
        return f"条件 / every row of {model} satisfies {kwargs.get('expression')}"
    if kind == "totals_match":
        return f"守恒 / {model}'s totals by group equal {_ref_name(kwargs.get('to'))}'s"
    return f"dbt 测试 / {test_name} on {model}"


def failure_message(check_name: str, metadata: dict) -> str | None:
    """A failed check's message: the check's own `problem`, or for a dbt test how many rows fail what."""
    problem = metadata.get("problem")
    if problem is not None and getattr(problem, "value", problem):
        return str(getattr(problem, "value", problem))
    rows = metadata.get("dagster_dbt/failed_row_count")
    if rows is None:
        return None
    count = getattr(rows, "value", rows)
    what = meaning(check_name) or check_name
    return f"{count:,} row{'s' if count != 1 else ''} fail: {what}"
