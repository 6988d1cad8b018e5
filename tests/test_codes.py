import numpy as np
import pytest

from laiou_assets import codes
from laiou_assets.generate.population import make_uscc
from tests.recount import valid_uscc


@pytest.mark.parametrize(
    "code, valid",
    [
        ("91350100M000100Y43", True),  # the example printed in GB 32100-2015
        ("91350100M000100Y44", False),  # wrong check character
        ("91350100M000100Y4", False),  # 17 characters
        ("91350100M00010OY43", False),  # O is not in the alphabet
        ("", False),
    ],
)
def test_uscc_check_character_r1(code, valid):
    assert codes.is_valid_uscc(code) is valid


def test_generated_usccs_are_valid_and_distinct():
    ids = np.arange(1, 5001)
    regions = np.array(["310115", "320100", "100000", "440300", "310101"])[ids % 5]
    made = make_uscc(ids, regions)
    assert all(valid_uscc(c) for c in made)  # independent R1 implementation
    assert len(set(made)) == len(made)
    assert {c[2:8] for c in made} == set(regions)


def test_code_lists_follow_r2_and_r3():
    assert len(codes.current_district_codes()) == 16
    assert {"310103", "310108", "310119", "310230"} < codes.district_codes()
    assert len(codes.mainland_province_codes()) == 31 and "810000" not in codes.mainland_province_codes()
    assert codes.is_valid_industry_class("5191") and not codes.is_valid_industry_class("9999")
