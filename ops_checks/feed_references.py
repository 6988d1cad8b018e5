"""巡检 of a feed month's references: the enterprises its records name are known to the feeds."""

from ops_checks.feed_arrival import SAMPLE, Thresholds
from ops_checks.runbook import Finding

KNOWN = """
with known as (select distinct uscc from raw.saic_enterprise where _period <= %(period)s)
"""
REFERENCES_SQL = {
    # A voucher names its enterprise by USCC (18 characters). A legacy 15-character 税务登记号 is attributed
    # by R9 in one place, intermediate.int_tax_vouchers_resolved, whose test legacy_taxpayer_ids_resolved
    # reports the ones that resolve to no or several enterprises: here they are only counted.
    "tax_payment": KNOWN
    + """
select t._line, t.voucher_no, t.taxpayer_id, 'unknown_enterprise' as why
from raw.tax_payment t left join known on known.uscc = t.taxpayer_id
where t._period = %(period)s and length(t.taxpayer_id) <> 15 and known.uscc is null
order by t._line
""",
    "saic_shareholder": KNOWN
    + """
select s._line, s.investor_seq::text, s.uscc, 'unknown_enterprise' as why
from raw.saic_shareholder s left join known on known.uscc = s.uscc
where s._period = %(period)s and known.uscc is null order by s._line
""",
    "stats_indicator": KNOWN
    + """
select s._line, s.period, s.uscc, 'unknown_enterprise' as why
from raw.stats_indicator s left join known on known.uscc = s.uscc
where s._period = %(period)s and known.uscc is null order by s._line
""",
}
LEGACY_IDS_SQL = "select count(*) from raw.tax_payment where _period = %s and length(taxpayer_id) = 15"


def references_known(conn, feed: str, partition_key: str, t: Thresholds) -> Finding:
    """Records naming an enterprise no saic_enterprise delivery up to this month knows, as a share of the
    month's records (vouchers with a legacy id: counted, attributed later by R9)."""
    total = conn.execute(f"select count(*) from raw.{feed} where _period = %s", [partition_key]).fetchone()[0]
    rows = conn.execute(REFERENCES_SQL[feed], {"period": partition_key}).fetchall()
    by_why: dict[str, int] = {}
    for *_, why in rows:
        by_why[why] = by_why.get(why, 0) + 1
    share = len(rows) / total if total else 0.0
    facts = {
        "month": partition_key[:7],
        "records": total,
        "unresolved": len(rows),
        "unresolved_share": round(share, 5),
        "threshold": t.unknown_share,
        **by_why,
    }
    if feed == "tax_payment":
        facts["legacy_ids"] = conn.execute(LEGACY_IDS_SQL, [partition_key]).fetchone()[0]
    sample = [{"line": line, "record": ref, "enterprise": who, "why": why} for line, ref, who, why in rows[:SAMPLE]]
    ok = share <= t.unknown_share
    problem = None if ok else f"{share:.2%} of the records name enterprises the feeds do not know"
    return Finding(ok, {**facts, "problem": problem}, sample)
