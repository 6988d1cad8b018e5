"""The contract in docs/contract/ is the one laiou is built to (issue #15): every citation of feeds.md,
rules.md and warehouse.md resolves inside the repository."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COPY = ROOT / "docs" / "contract"
ORIGINAL = ROOT.parent / "shared" / "contract"  # the specification beside the checkout, where there is one
NAMES = ("feeds.md", "rules.md", "warehouse.md")


@pytest.mark.skipif(not ORIGINAL.is_dir(), reason="no shared contract beside this checkout to compare with")
@pytest.mark.parametrize("name", NAMES)
def test_the_repository_copy_equals_the_contract(name):
    assert (COPY / name).read_bytes() == (ORIGINAL / name).read_bytes(), f"docs/contract/{name} is out of date"


def test_every_rule_cited_in_code_and_docs_exists_in_rules_md():
    rules = set(re.findall(r"^#+ .*?\b(R\d+)\b", (COPY / "rules.md").read_text(encoding="utf-8"), re.M))
    rules |= set(re.findall(r"\*\*(R\d+)\b", (COPY / "rules.md").read_text(encoding="utf-8")))
    cited = set()
    for folder in ("laiou_assets", "ops_checks", "dbt_project/models", "dbt_project/tests", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".sql", ".yml", ".md"} and "contract" not in path.parts:
                cited |= set(re.findall(r"\bR(\d{1,2})\b", path.read_text(encoding="utf-8")))
    assert rules, "rules.md names no rule"
    unknown = sorted(int(n) for n in cited if f"R{n}" not in rules)
    assert not unknown, f"cited but not in docs/contract/rules.md: {unknown}"
