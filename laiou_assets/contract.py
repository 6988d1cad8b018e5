"""The feed contract of feeds.md as data: columns, types, keys, control totals and allowed codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    TEXT = "text"
    USCC = "uscc"  # the row's own identifier: invalid check character quarantines (R1)
    DATE = "date"  # YYYY-MM-DD
    MONTH = "month"  # YYYYMM
    DECIMAL = "decimal"  # decimal(18,2)
    INT = "int"
    CODE = "code"  # from a closed list: unknown values quarantine


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    sql_type: str = "text"
    codes: str | None = None  # name of the code list for Kind.CODE


def _c(name, kind, required=True, codes=None):
    sql = {
        Kind.DATE: "date",
        Kind.DECIMAL: "numeric(18,2)",
        Kind.INT: "integer",
    }.get(kind, "text")
    return Column(name, kind, required, sql, codes)


@dataclass(frozen=True)
class Feed:
    name: str
    label: str  # bilingual, shown to users
    source: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # duplicate key within one file
    control_column: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


ENT_TYPES = frozenset({"1100", "1200", "2100", "4100", "4500"})
ENT_STATUSES = frozenset({"1", "2", "3", "4"})
INVESTOR_TYPES = frozenset({"E", "P"})

FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        Feed(
            name="saic_enterprise",
            label="企业登记信息 / enterprise registrations",
            source="上海市市场监督管理局 / market-regulation bureau",
            columns=(
                _c("uscc", Kind.USCC),
                _c("reg_no", Kind.TEXT, required=False),
                _c("name", Kind.TEXT),
                _c("ent_type", Kind.CODE, codes="ent_type"),
                _c("parent_uscc", Kind.TEXT, required=False),
                _c("reg_date", Kind.DATE),
                _c("district_code", Kind.CODE, codes="district"),
                _c("industry_code", Kind.CODE, codes="industry"),
                _c("reg_capital", Kind.DECIMAL),
                _c("status", Kind.CODE, codes="status"),
                _c("status_date", Kind.DATE, required=False),
                _c("record_date", Kind.DATE),
            ),
            key=("uscc", "record_date"),
            control_column="reg_capital",
        ),
        Feed(
            name="saic_shareholder",
            label="股东及出资信息 / shareholders and subscribed capital",
            source="上海市市场监督管理局 / market-regulation bureau",
            columns=(
                _c("uscc", Kind.USCC),
                _c("investor_seq", Kind.INT),
                _c("investor_type", Kind.CODE, codes="investor_type"),
                _c("investor_name", Kind.TEXT),
                _c("investor_uscc", Kind.TEXT, required=False),
                _c("investor_country", Kind.CODE, codes="country"),
                _c("investor_region_code", Kind.TEXT, required=False),
                _c("subscribed_capital", Kind.DECIMAL),
                _c("invest_date", Kind.DATE),
                _c("record_date", Kind.DATE),
            ),
            key=("uscc", "investor_seq"),
            control_column="subscribed_capital",
        ),
        Feed(
            name="tax_payment",
            label="税收入库信息 / tax payments",
            source="国家税务总局上海市税务局 / tax bureau",
            columns=(
                _c("voucher_no", Kind.TEXT),
                _c("taxpayer_id", Kind.USCC),
                _c("tax_period", Kind.MONTH),
                _c("tax_type", Kind.CODE, codes="tax_type"),
                _c("amount", Kind.DECIMAL),
                _c("paid_date", Kind.DATE),
            ),
            key=("voucher_no",),
            control_column="amount",
        ),
        Feed(
            name="stats_indicator",
            label="统计联网直报 / statistics indicators (YTD)",
            source="上海市统计局 / statistics bureau",
            columns=(
                _c("uscc", Kind.USCC),
                _c("period", Kind.MONTH),
                _c("revenue_ytd", Kind.DECIMAL),
                _c("profit_ytd", Kind.DECIMAL),
                _c("employees", Kind.INT),
            ),
            # feeds.md names no key for this feed; one figure per enterprise and month is the natural one.
            key=("uscc", "period"),
            control_column="revenue_ytd",
        ),
    )
}

# The loader sums the control column of every loaded row: it must be a required decimal of its feed.
assert all(
    f.control_column in {c.name for c in f.columns if c.kind is Kind.DECIMAL and c.required} for f in FEEDS.values()
)

# In the order feeds.md ranks them: a row with several faults is quarantined under the first.
QUARANTINE_REASONS = (
    "field_count",
    "missing_field",
    "bad_date",
    "bad_number",
    "invalid_uscc",
    "unknown_code",
    "duplicate_key",
)
ENCODINGS = {"UTF-8": "utf-8-sig", "GB18030": "gb18030"}
