"""Row-level validation of feeds.md ("Bad input"): the first fault, in the contract's reason order."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from laiou_assets import codes
from laiou_assets.contract import ENT_STATUSES, ENT_TYPES, INVESTOR_TYPES, Feed, Kind

# ASCII digits only: PostgreSQL's numeric and date input reject other Unicode digits that Python's \d takes.
# The patterns are shared with the column-wise checks (columnar.py).
DECIMAL_PATTERN = r"-?[0-9]{1,16}(\.[0-9]{1,2})?"  # decimal(18,2)
INT_PATTERN = r"[0-9]{1,9}"
_DECIMAL = re.compile(DECIMAL_PATTERN)
_INT = re.compile(INT_PATTERN)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@lru_cache(maxsize=65536)
def is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def is_month(value: str) -> bool:
    return len(value) == 6 and value.isascii() and value.isdigit() and 1 <= int(value[4:]) <= 12


def is_decimal(value: str) -> bool:
    return _DECIMAL.fullmatch(value) is not None


def code_sets() -> dict[str, object]:
    return {
        "ent_type": ENT_TYPES,
        "status": ENT_STATUSES,
        "investor_type": INVESTOR_TYPES,
        "district": codes.district_codes(),
        "country": codes.country_codes(),
        "tax_type": codes.tax_types(),
    }


class RowValidator:
    """Validates one file's records; remembers keys to find duplicates (first occurrence wins)."""

    def __init__(self, feed: Feed, header: list[str]):
        self.feed = feed
        self.width = len(header)
        pos = {name: i for i, name in enumerate(header)}
        self.control_pos = pos[feed.control_column]
        sets = code_sets()
        cols = list(feed.columns)
        self._required = [(pos[c.name], c.name) for c in cols if c.required]
        self._dates = [(pos[c.name], c.name, is_date) for c in cols if c.kind is Kind.DATE]
        self._dates += [(pos[c.name], c.name, is_month) for c in cols if c.kind is Kind.MONTH]
        self._numbers = [(pos[c.name], c.name, is_decimal) for c in cols if c.kind is Kind.DECIMAL]
        self._numbers += [(pos[c.name], c.name, _INT.fullmatch) for c in cols if c.kind is Kind.INT]
        self._ids = [(pos[c.name], c.name) for c in cols if c.kind is Kind.USCC]
        self._codes = []
        for c in cols:
            if c.kind is Kind.CODE:
                check = codes.is_valid_industry_class if c.codes == "industry" else sets[c.codes].__contains__
                self._codes.append((pos[c.name], c.name, check))
        self._status = pos.get("status") if "status_date" in pos else None
        self._status_date = pos.get("status_date")

    def row_fault(self, fields: list[str]) -> tuple[str, str] | None:
        """(reason, detail) of the row's first fault other than a duplicate key, or None.

        Duplicate keys are decided by the reader over the whole file (`reading.py`): the first occurrence
        among rows without another fault loads, later ones are quarantined as duplicate_key.
        """
        if len(fields) != self.width:
            return "field_count", f"{len(fields)} fields, header has {self.width}"
        for i, name in self._required:
            if fields[i] == "":
                return "missing_field", f"{name} is empty"
        if self._status is not None and fields[self._status] not in ("", "1") and fields[self._status_date] == "":
            return "missing_field", "status_date is empty while status is not 1"
        for i, name, ok in self._dates:
            v = fields[i]
            if v and not ok(v):
                return "bad_date", f"{name}={v!r}"
        for i, name, ok in self._numbers:
            v = fields[i]
            if v and not ok(v):
                return "bad_number", f"{name}={v!r}"
        for i, name in self._ids:
            v = fields[i]
            # R9: a 15-character taxpayer_id is a legacy 税务登记号, resolved downstream.
            if name == "taxpayer_id" and len(v) == 15:
                continue
            if not codes.is_valid_uscc(v):
                return "invalid_uscc", f"{name}={v!r} fails the GB 32100-2015 check (R1)"
        for i, name, ok in self._codes:
            v = fields[i]
            if v and not ok(v):
                return "unknown_code", f"{name}={v!r}"
        return None
