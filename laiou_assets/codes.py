"""Code rules of rules.md that Python needs (validation, generation): R1 USCC, R2 districts, R3 provinces, R4.

Code lists are read from the dbt seeds so that Python and SQL share one source.
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache

import numpy as np

from laiou_assets.settings import DBT_PROJECT_DIR

# R1: GB 32100-2015 alphabet (no I, O, S, V, Z) and weights 3^(i-1) mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_INDEX = {ch: i for i, ch in enumerate(USCC_ALPHABET)}


_WEIGHTS = np.array(USCC_WEIGHTS, dtype=np.int64)


def uscc_check_indices(first17: np.ndarray) -> np.ndarray:
    """R1, the one implementation: the check character (as its index in the alphabet) of each row of an
    n × 17 matrix of alphabet indices. The loader checks whole columns with it, the generator makes codes."""
    return (31 - (first17.astype(np.int64) @ _WEIGHTS) % 31) % 31


def uscc_check_char(first17: str) -> str:
    """The R1 check character for the first 17 characters of a USCC."""
    indices = np.array([[_USCC_INDEX[ch] for ch in first17]], dtype=np.int64)
    if indices.shape != (1, 17):
        raise ValueError(f"{first17!r}: a USCC's check character follows exactly 17 characters")
    return USCC_ALPHABET[int(uscc_check_indices(indices)[0])]


@lru_cache(maxsize=1 << 18)  # a month's rows repeat the same taxpayers many times
def is_valid_uscc(code: str) -> bool:
    """R1: 18 characters over the alphabet whose last is the check character of the first 17."""
    if len(code) != 18 or any(ch not in _USCC_INDEX for ch in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def _seed_rows(name: str) -> list[dict[str, str]]:
    with open(DBT_PROJECT_DIR / "seeds" / f"{name}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@cache
def district_codes() -> frozenset[str]:
    """R2: current and retired Shanghai district codes (anything else is unknown)."""
    return frozenset(r["district_code"] for r in _seed_rows("ref_districts"))


@cache
def district_successors() -> dict[str, str]:
    """R2: each district code (current or retired) → the current code it counts as."""
    return {r["district_code"]: r["successor_code"] for r in _seed_rows("ref_districts")}


def industry_section(division: str) -> str:
    """GB/T 4754 section letter of a two-digit division, or "?" outside every section."""
    for section, low, high in _industry_sections():
        if low <= division <= high:
            return section
    return "?"


@cache
def _industry_sections() -> tuple[tuple[str, str, str], ...]:
    return tuple((r["section_code"], r["division_from"], r["division_to"]) for r in _seed_rows("ref_industry_sections"))


@cache
def current_district_codes() -> tuple[str, ...]:
    return tuple(r["district_code"] for r in _seed_rows("ref_districts") if r["is_current"] == "true")


@cache
def mainland_province_codes() -> tuple[str, ...]:
    """R3: province codes (xx0000) of the mainland."""
    return tuple(r["province_code"] for r in _seed_rows("ref_provinces") if r["is_mainland"] == "true")


@cache
def tax_types() -> frozenset[str]:
    return frozenset(r["tax_type"] for r in _seed_rows("ref_tax_types"))


def is_valid_industry_class(code: str) -> bool:
    """R4: a 4-digit GB/T 4754-2017 class whose division (first two digits) is 01–97.

    The full class list is not part of the contract; a class in a valid division is accepted.
    """
    return len(code) == 4 and code.isascii() and code.isdigit() and 1 <= int(code[:2]) <= 97


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-3 codes accepted in investor_country."""
    return frozenset(r["country_code"] for r in _seed_rows("ref_countries"))


@cache
def current_district_names() -> dict[str, str]:
    """R2: each current district's code → its Chinese name (黄浦区 …)."""
    return {r["district_code"]: r["district_name"] for r in _seed_rows("ref_districts") if r["is_current"] == "true"}
