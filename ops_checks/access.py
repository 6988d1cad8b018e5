"""权限 / access to the marts as warehouse.md says: row-level security forced on the enterprise-level marts
with the district and all-rows policies, and SELECT (only) for the BI and district roles on every mart."""

import dagster as dg

from laiou_assets.access import BI_ROLE, DISTRICTS_GROUP
from laiou_assets.keys import DIM_ENTERPRISE
from laiou_assets.resources import WarehouseResource
from ops_checks.runbook import Finding, check_result

ROW_LEVEL_TABLES = ["dim_enterprise", "fct_tax_monthly", "fct_stats_monthly"]
POLICIES = {"district_rows", "all_rows"}
WRITES = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"

STATE_SQL = """
select c.relname, c.relrowsecurity, c.relforcerowsecurity,
       coalesce((select array_agg(p.polname::text order by p.polname) from pg_policy p where p.polrelid = c.oid), '{}'),
       has_table_privilege(%(bi)s, c.oid, 'SELECT'), has_table_privilege(%(districts)s, c.oid, 'SELECT'),
       has_table_privilege(%(bi)s, c.oid, %(writes)s), has_table_privilege(%(districts)s, c.oid, %(writes)s)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'marts' and c.relkind in ('r', 'p', 'v')
order by c.relname
"""


def access_problems(conn) -> tuple[list[str], dict]:
    """Every deviation from warehouse.md's Access section, and the state of each mart."""
    params = {"bi": BI_ROLE, "districts": DISTRICTS_GROUP, "writes": WRITES}
    rows = conn.execute(STATE_SQL, params).fetchall()
    problems, state = [], {}
    for name, rls, forced, policies, bi_reads, districts_read, bi_writes, districts_write in rows:
        state[name] = {"rls": rls, "forced": forced, "policies": list(policies)}
        if not (bi_reads and districts_read):
            problems.append(f"marts.{name}: {BI_ROLE} or {DISTRICTS_GROUP} cannot SELECT")
        if bi_writes or districts_write:
            problems.append(f"marts.{name}: a reading role can write")
        if name in ROW_LEVEL_TABLES and not (rls and forced and POLICIES <= set(policies)):
            problems.append(f"marts.{name}: row-level security not forced with {sorted(POLICIES)} (has {policies})")
    if not rows:
        problems.append("no table in schema marts: the marts were never built")
    return problems, state


ACCESS_CHECK = (
    "权限 / the marts are readable by laiou_bi and the district roles and writable by neither; row-level "
    "security is forced on dim_enterprise, fct_tax_monthly and fct_stats_monthly with the district and "
    "all-rows policies (warehouse.md, Access). Re-checked after every build of the marts."
)


@dg.asset_check(
    asset=DIM_ENTERPRISE,
    name="access_as_warehouse_md_says",
    blocking=False,
    description=ACCESS_CHECK,
)
def access_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        problems, state = access_problems(conn)
    finding = Finding(not problems, {"problem": "; ".join(problems) or None, "marts": dg.MetadataValue.json(state)})
    return check_result("access_as_warehouse_md_says", dg.AssetCheckSeverity.ERROR, {"all": finding})
