"""重复税票 / vouchers delivered again: a voucher_no of this month already loaded from an earlier month.

feeds.md calls it a producer error: the check reports it (WARN, it does not block the marts) and the marts
count each voucher once, at its earliest delivery (stg_feeds__tax_vouchers).
"""

import warnings

import dagster as dg

from laiou_assets.defs.feeds.assets import raw_asset_key
from laiou_assets.partitions import monthly_partitions
from laiou_assets.resources import WarehouseResource

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


def build_repeated_voucher_check() -> dg.AssetChecksDefinition:
    with warnings.catch_warnings():  # partition-aware checks are a preview feature of dagster 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.asset_check(
            asset=raw_asset_key("tax_payment"),
            name="no_voucher_from_an_earlier_delivery",
            partitions_def=monthly_partitions,
            description=(
                "重复税票 / no voucher_no of this month was already delivered in an earlier month (feeds.md: a "
                "producer error). WARN: the marts count such a voucher once, at its earliest delivery."
            ),
        )
        def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
            found = {}
            with warehouse.connect() as conn:
                for key in context.partition_keys:
                    found[key] = repeated_vouchers(conn, key)
            repeats = sum(len(v) for v in found.values())
            sample = [
                {"month": k[:7], "voucher_no": v, "line": line, "first_delivered": str(first)[:7]}
                for k, rows in found.items()
                for v, line, first in rows[:SAMPLE]
            ][:SAMPLE]
            return dg.AssetCheckResult(
                passed=repeats == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "months_checked": len(found),
                    "repeated_vouchers": repeats,
                    "sample": dg.MetadataValue.json(sample),
                },
            )

    return _check
