"""巡检 of a feed month's references: the enterprises its records name are known to the feeds."""

from ops_checks.feed_arrival import SAMPLE, Thresholds
from ops_checks.runbook import Finding

KNOWN = """
with known as (select distinct uscc from raw.saic_enterprise where _period <= %(period)s),
org as (select substr(uscc, 9, 9) as org_code, count(*) as n from known group by 1)
"""
REFERENCES_SQL = {
    # R9: an 18-character taxpayer_id is a USCC; a 15-character legacy id resolves by its organisation code
    # to exactly one enterprise, else it is unresolved.
    "tax_payment": KNOWN
    + """
select t._line, t.voucher_no, t.taxpayer_id,
       case when length(t.taxpayer_id) = 18 then 'unknown_enterprise'
            when coalesce(org.n, 0) = 0 then 'unknown_legacy_id' else 'ambiguous_legacy_id' end as why
from raw.tax_payment t
left join known on length(t.taxpayer_id) = 18 and known.uscc = t.taxpayer_id
left join org on length(t.taxpayer_id) = 15 and org.org_code = substr(t.taxpayer_id, 7, 9)
where t._period = %(period)s
  and ((length(t.taxpayer_id) = 18 and known.uscc is null) or (length(t.taxpayer_id) = 15 and coalesce(org.n, 0) <> 1))
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


def references_known(conn, feed: str, partition_key: str, t: Thresholds) -> Finding:
    """Records naming an enterprise no saic_enterprise delivery up to this month knows (vouchers: also
    legacy ids that resolve to none or several, R9), as a share of the month's records."""
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
    sample = [{"line": line, "record": ref, "enterprise": who, "why": why} for line, ref, who, why in rows[:SAMPLE]]
    ok = share <= t.unknown_share
    problem = None if ok else f"{share:.2%} of the records name enterprises the feeds do not know"
    return Finding(ok, {**facts, "problem": problem}, sample)
