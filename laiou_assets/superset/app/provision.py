"""Provisions Superset from code, inside Superset (run with .venv-bi's python by laiou_assets/superset/launch.py,
which passes a JSON spec on standard input). It imports nothing of laiou.

`all`:  the marts database (as laiou_bi) and the dashboards bundle imported, replacing whatever changed and
        duplicating nothing (the bundle's uuids are fixed); the roles and what each may read; the row-level
        rules of the district roles.
`user`: the same, then one user created or given a new role and password.

Who sees what (warehouse.md, Access; issue #16):
- office (办公室): every dataset but the data team's;
- district:<code> (区): the same, the enterprise-level datasets narrowed to the district's enterprises;
- commission (委办): the aggregate datasets only, no enterprise row;
- data (数据组): everything, 数据质量 included, and SQL Lab;
- admin: Superset's Admin.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import yaml

DATABASE_FILE = "databases/laiou_marts.yaml"
PROVISIONER = "laiou-provisioner"  # owns the imported objects; inactive, its password never known
ENTERPRISE_DATASETS = {"dim_enterprise", "laiou_enterprise_tax_year"}  # rows that name an enterprise
DATA_TEAM_DATASETS = {"ops_deliveries", "ops_quarantine_by_reason", "ops_open_incidents"}
OFFICE, COMMISSION, DATA_TEAM = "laiou_office", "laiou_commission", "laiou_data_team"
DISTRICT_PREFIX = "laiou_district_"
MASK = "XXXXXXXXXX"  # Superset's placeholder for a password in an exported URI


def bundle(folder: Path, marts_uri: str) -> tuple[dict[str, str], dict[str, str]]:
    """The bundle's files by their path in it, the database's address filled in (it differs per
    installation), and its password apart, as Superset's importer takes it."""
    from sqlalchemy.engine.url import make_url

    contents = {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.yaml"))}
    url = make_url(marts_uri)
    passwords = {}
    if url.password:
        passwords[DATABASE_FILE] = url.password
        url = url.set(password=MASK)
    database = yaml.safe_load(contents[DATABASE_FILE])
    database["sqlalchemy_uri"] = url.render_as_string(hide_password=False)
    contents[DATABASE_FILE] = yaml.safe_dump(database, allow_unicode=True)
    return contents, passwords


def provisioner():
    from superset import db, security_manager

    user = security_manager.find_user(username=PROVISIONER)
    if user is None:
        user = security_manager.add_user(
            PROVISIONER, "laiou", "provisioner", f"{PROVISIONER}@laiou.invalid",
            security_manager.find_role("Admin"), password=secrets.token_urlsafe(32),
        )  # fmt: skip
    user.active = False  # nobody logs in as it
    db.session.commit()
    return user


def import_bundle(spec: dict) -> None:
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.utils.core import override_user

    contents, passwords = bundle(Path(spec["bundle"]), spec["marts_uri"])
    with override_user(provisioner()):
        ImportAssetsCommand(contents, passwords=passwords).run()


def ensure_role(name: str):
    from superset import security_manager

    return security_manager.find_role(name) or security_manager.add_role(name)


def grant_datasets(role, datasets) -> None:
    """The role reads exactly these datasets (its datasource_access permissions are replaced)."""
    from superset import db, security_manager

    wanted = []
    for dataset in datasets:
        pv = security_manager.find_permission_view_menu("datasource_access", dataset.perm)
        wanted.append(pv or security_manager.add_permission_view_menu("datasource_access", dataset.perm))
    kept = [pv for pv in role.permissions if pv.permission.name != "datasource_access"]
    role.permissions = kept + wanted
    db.session.commit()


def provision_roles(spec: dict) -> list[str]:
    from superset import db
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard

    marts = db.session.query(Database).filter_by(uuid=_database_uuid(spec)).one()
    datasets = db.session.query(SqlaTable).filter_by(database_id=marts.id).all()
    readers = [d for d in datasets if d.table_name not in DATA_TEAM_DATASETS]
    aggregates = [d for d in readers if d.table_name not in ENTERPRISE_DATASETS]
    enterprise = [d for d in readers if d.table_name in ENTERPRISE_DATASETS]

    grant_datasets(ensure_role(OFFICE), readers)
    grant_datasets(ensure_role(COMMISSION), aggregates)
    grant_datasets(ensure_role(DATA_TEAM), datasets)
    for code, name in spec["districts"].items():
        role = ensure_role(f"{DISTRICT_PREFIX}{code}")
        grant_datasets(role, readers)
        rule_name = f"laiou district {code}"
        rule = db.session.query(RowLevelSecurityFilter).filter_by(name=rule_name).one_or_none()
        if rule is None:
            rule = RowLevelSecurityFilter(name=rule_name)
            db.session.add(rule)
        rule.description = f"{name}：只见本区企业 / its own district's enterprises only"
        rule.filter_type = "Regular"
        rule.group_key = "district"
        rule.clause = f"district_code = '{code}'"  # every enterprise-level dataset has district_code
        rule.tables = enterprise
        rule.roles = [role]
    # 数据质量 is the data team's (DASHBOARD_RBAC); the others are seen by whoever may read their datasets.
    for dashboard in db.session.query(Dashboard).all():
        if dashboard.slug == "data-quality":
            dashboard.roles = [ensure_role(DATA_TEAM)]
    db.session.commit()
    return [d.dashboard_title for d in db.session.query(Dashboard).order_by(Dashboard.id)]


def imported(spec: dict) -> bool:
    from superset import db
    from superset.models.core import Database

    return db.session.query(Database).filter_by(uuid=_database_uuid(spec)).one_or_none() is not None


def _database_uuid(spec: dict) -> str:
    return yaml.safe_load((Path(spec["bundle"]) / DATABASE_FILE).read_text(encoding="utf-8"))["uuid"]


def roles_for(kind: str) -> list[str]:
    if kind == "admin":
        return ["Admin"]
    if kind == "data":
        return ["Alpha", "sql_lab", DATA_TEAM]
    if kind.startswith("district:"):
        return ["Gamma", DISTRICT_PREFIX + kind.split(":", 1)[1]]
    return ["Gamma", {"office": OFFICE, "commission": COMMISSION}[kind]]


def provision_user(spec: dict) -> str:
    from superset import db, security_manager

    wanted = spec["user"]
    roles = [security_manager.find_role(name) for name in roles_for(wanted["role"])]
    user = security_manager.find_user(username=wanted["name"])
    if user is None:
        user = security_manager.add_user(
            wanted["name"], wanted["name"], wanted["role"], f"{wanted['name']}@laiou.invalid", roles,
            password=wanted["password"],
        )  # fmt: skip
        if not user:
            raise SystemExit(f"Superset refused the user {wanted['name']!r}")
        return f"user {wanted['name']} created ({wanted['role']})"
    user.roles = roles
    user.active = True
    security_manager.reset_password(user.id, wanted["password"])
    db.session.commit()
    return f"user {wanted['name']} updated ({wanted['role']}, new password)"


def main(action: str) -> None:
    from superset.app import create_app

    spec = json.load(sys.stdin)
    app = create_app()
    with app.app_context():
        if action == "all" or not imported(spec):
            import_bundle(spec)
        dashboards = provision_roles(spec)
        if action == "all":
            print(f"{len(dashboards)} dashboards: {'，'.join(dashboards)}")
        else:
            print(provision_user(spec))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all")
