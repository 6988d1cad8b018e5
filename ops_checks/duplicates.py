"""重复税票 / vouchers delivered again: a voucher_no of this month already loaded from an earlier month.

feeds.md calls it a producer error: the check reports it (WARN, it does not block the marts) and the marts
count each voucher once, at its earliest delivery (int_tax_vouchers).
"""

import dagster as dg

from ops_checks.runbook import FeedCheck, Finding

SAMPLE = 10

REPEATED_SQL = """
select t.voucher_no, t._line, min(e._period) as first_delivered
from raw.tax_payment t
join raw.tax_payment e on e.voucher_no = t.voucher_no and e._period < t._period
where t._period = %(period)s
group by t.voucher_no, t._line
order by t._line
"""


def repeated_vouchers(conn, partition_key: str) -> list[tuple[str, int, object]]:
    """(voucher_no, line in this month's file, month it was first delivered) for each repeat."""
    return conn.execute(REPEATED_SQL, {"period": partition_key}).fetchall()


def repeated_voucher_finding(conn, partition_key: str) -> Finding:
    rows = repeated_vouchers(conn, partition_key)
    sample = [{"voucher_no": v, "line": line, "first_delivered": str(first)[:7]} for v, line, first in rows[:SAMPLE]]
    facts = {"month": partition_key[:7], "repeated_vouchers": len(rows)}
    return Finding(not rows, facts, sample)


REPEATED_VOUCHERS = FeedCheck(
    "no_voucher_from_an_earlier_delivery",
    "重复税票 / no voucher_no of this month was already delivered in an earlier month (feeds.md: a producer "
    "error). WARN: the marts count such a voucher once, at its earliest delivery.",
    dg.AssetCheckSeverity.WARN,
    lambda conn, landing, feed, key, t: repeated_voucher_finding(conn, key),
    feeds=("tax_payment",),
)
