"""One settings object (issue #15): every LAIOU_* variable the code reads is in settings.VARIABLES, and the
README's configuration table is that list."""

import re
from pathlib import Path

import pytest

from laiou_assets import settings

ROOT = Path(__file__).resolve().parents[1]


def readme_table() -> list[tuple[str, str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Configuration") :]
    section = section[: section.index("\n\n", section.index("| variable |"))]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [tuple(cell.strip() for cell in row.strip("|").split(" | ")) for row in rows]


def test_the_readme_configuration_table_lists_every_variable_with_its_meaning_and_default():
    expected = [(f"`{v.name}`", v.meaning, v.default) for v in settings.VARIABLES]
    assert readme_table() == expected


def test_the_code_reads_no_laiou_variable_outside_the_settings_module():
    named = {v.name for v in settings.VARIABLES}
    for folder in ("laiou_assets", "ops_checks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "settings.py":
                continue
            text = path.read_text(encoding="utf-8")
            read = re.findall(r"(?:environ\.get\(|environ\[|getenv\()\s*f?[\"'](LAIOU_\w+)", text)
            assert not read, f"{path.relative_to(ROOT)} reads {read} itself: add it to settings.VARIABLES"
    for name in re.findall(
        r'env\.get\("(LAIOU_\w+)"\)|_number\(env, "(LAIOU_\w+)"', (ROOT / "laiou_assets" / "settings.py").read_text()
    ):
        assert (name[0] or name[1]) in named, name


def test_a_bad_number_names_the_variable_and_its_value(monkeypatch):
    monkeypatch.setenv("LAIOU_BACKUP_KEEP", "seven")
    with pytest.raises(settings.SettingError, match=r"LAIOU_BACKUP_KEEP='seven' is not a whole number"):
        settings.current()
    monkeypatch.setenv("LAIOU_BACKUP_KEEP", "3")
    monkeypatch.setenv("LAIOU_DUE_DAY_TAX_PAYMENT", "25")
    current = settings.current()
    assert current.backup_keep == 3 and current.due_day_by_feed["tax_payment"] == 25
    assert current.due_day_by_feed["saic_enterprise"] == 20
    monkeypatch.setenv("LAIOU_DUE_DAY", "40")
    with pytest.raises(settings.SettingError, match=r"LAIOU_DUE_DAY='40' is not a day of every month \(1–28\)"):
        settings.current()


def test_importing_laiou_changes_no_environment_variable_and_creates_no_file(tmp_path):
    import subprocess
    import sys

    code = """
import os, sys
before = dict(os.environ)
import laiou_assets.cli, laiou_assets.definitions, laiou_assets.running, laiou_assets.status, laiou_assets.serve
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print("changed:", changed)
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAIOU_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.stdout.strip() == "changed: []", done.stdout + done.stderr[-2000:]
    assert not (tmp_path / "home").exists()
