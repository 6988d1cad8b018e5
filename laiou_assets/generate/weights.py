"""The generator's assumptions about Shanghai's enterprises: weights of provinces, districts, industries,
enterprise and tax types, and the shares of each special case (docs/generator.md explains them)."""

import numpy as np

from laiou_assets import codes

ALPHABET = np.array(list(codes.USCC_ALPHABET))

# Source provinces of 来沪 investment, weighted as Shanghai's are (Jiangsu and Zhejiang far ahead).
PROVINCE_WEIGHTS = {
    "320000": 0.30,
    "330000": 0.25,
    "110000": 0.07,
    "440000": 0.06,
    "340000": 0.06,
    "370000": 0.04,
    "350000": 0.04,
    "420000": 0.025,
    "360000": 0.02,
    "410000": 0.02,
    "430000": 0.02,
    "510000": 0.02,
    "120000": 0.01,
    "130000": 0.01,
    "210000": 0.01,
    "500000": 0.01,
    "610000": 0.01,
    "140000": 0.005,
    "150000": 0.005,
    "220000": 0.005,
    "230000": 0.005,
    "450000": 0.005,
    "460000": 0.005,
    "520000": 0.005,
    "530000": 0.005,
    "620000": 0.0025,
    "650000": 0.0025,
    "640000": 0.001,
    "630000": 0.001,
    "540000": 0.001,
}
# Suburban districts are much larger than central ones.
DISTRICT_WEIGHTS = {
    "310115": 0.22,
    "310112": 0.09,
    "310114": 0.09,
    "310117": 0.08,
    "310118": 0.07,
    "310120": 0.09,
    "310113": 0.07,
    "310151": 0.08,
    "310116": 0.04,
    "310101": 0.025,
    "310104": 0.025,
    "310105": 0.02,
    "310106": 0.025,
    "310107": 0.02,
    "310109": 0.015,
    "310110": 0.02,
}
RETIRED_FOR = {"310101": "310103", "310106": "310108", "310115": "310119", "310151": "310230"}
# GB/T 4754-2017 classes weighted toward trade, business services, technology services, manufacturing.
INDUSTRY_WEIGHTS = {
    "5191": 0.10,
    "5291": 0.08,
    "5139": 0.05,
    "5179": 0.05,
    "7212": 0.08,
    "7299": 0.07,
    "7519": 0.06,
    "7520": 0.04,
    "6510": 0.05,
    "6520": 0.04,
    "3311": 0.03,
    "3490": 0.03,
    "3990": 0.03,
    "2929": 0.02,
    "4812": 0.03,
    "7010": 0.04,
    "5810": 0.03,
    "6110": 0.02,
    "7610": 0.02,
    "8090": 0.03,
    "6620": 0.02,
    "7840": 0.02,
    "7439": 0.03,
    "8710": 0.01,
    "0190": 0.01,
}
ENT_TYPE_WEIGHTS = {"1100": 0.70, "1200": 0.05, "4100": 0.07, "4500": 0.07, "2100": 0.11}
TAX_TYPE_WEIGHTS = {
    "10101": 0.40,
    "10104": 0.18,
    "10106": 0.14,
    "10109": 0.10,
    "10111": 0.08,
    "10110": 0.04,
    "10112": 0.03,
    "10102": 0.01,
    "10113": 0.02,
}
BUSINESS_TAX, BUSINESS_TAX_UNTIL = "10103", np.datetime64("2016-05-01")
# R9: enterprises registered before the USCC reform (2015-10) pay part of their vouchers under their legacy
# 15-character 税务登记号; a few vouchers carry legacy ids of taxpayers the feeds do not know.
LEGACY_UNTIL = np.datetime64("2015-10-01")
LEGACY_VOUCHER_SHARE = 0.3
UNKNOWN_LEGACY_SHARE = 0.002
GROUP_SHARE = 0.4  # of the other provinces' enterprise investors: groups investing in many enterprises (R15)
GROUP_ID_BASE = 10**12  # their organisation-code ids, apart from the ids every other USCC takes (Ids)
TIE_SHARE = 0.05  # of investor lists with two investors or more: the largest two subscribed equally (R7)
STATS_MISSING_SHARE = 0.03  # of the monthly statistics reports that do not arrive (R13)
CORRECTED_SHARE = 0.03  # of deliveries delivered again as a correction (feeds.md)
# R10: per 50,000 enterprises, one chain of six enterprises below a direct 来沪 one (levels 2–7: the last two
# are beyond the five-level stop) and one ownership cycle of three.
CHAIN_LENGTH, CYCLE_LENGTH, CHAINS_PER = 6, 3, 50_000
FOREIGN = {"HKG": 0.5, "TWN": 0.1, "MAC": 0.05, "USA": 0.1, "JPN": 0.08, "SGP": 0.1, "DEU": 0.07}
SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"))
WORDS = np.array(["宏达", "华信", "东方", "恒通", "汇丰", "锦程", "瑞祥", "新元", "博远", "嘉禾", "天成", "永盛"])
TRADES = np.array(["贸易", "科技", "实业", "信息技术", "商务咨询", "供应链管理", "机械", "电子"])
# Investor classes; the largest investor's class decides 来沪 (R5, R7).
OTHER_E, OTHER_P, SH_E, SH_P, FOREIGN_E, NATIONAL_E, UNKNOWN_E = range(7)
CONTROLLER_P = [0.22, 0.08, 0.40, 0.12, 0.10, 0.03, 0.05]
MINOR_P = [0.20, 0.15, 0.30, 0.30, 0.03, 0.01, 0.01]
MONTH_SEASON = np.array([1.25, 0.8, 0.95, 1.0, 1.3, 1.0, 1.1, 0.95, 0.95, 1.05, 0.9, 1.1])


# The 2018 report (rules.md R11): 来沪 enterprises cumulative at 2018-12-31 and new in 2018.
LAIOU_CUMULATIVE_2018 = 1_249_760
LAIOU_NEW_2018 = 218_473
# Shanghai enterprises the feeds carry at seed scale, 来沪 or not (an assumption: docs/generator.md).
SEED_ENTERPRISES = 3_000_000
GROWTH_PER_YEAR = 0.25  # registrations grow by e^0.25 ≈ 28 % a year within the delivered period

# What the sample data makes the checks warn about on purpose, as `laiou demo` explains it (预期警告).
EXPECTED_WARNINGS = {
    "legacy_taxpayer_ids_resolved": "the sample gives a few pre-reform enterprises a shared organisation code, so "
    "some legacy tax ids match two enterprises and stay unattributed (R9)",
    "fct_stats_monthly_has_previous_month": f"about {STATS_MISSING_SHARE:.0%} of the monthly statistics reports are "
    "left out of the sample, so the month after each has no monthly value (R13)",
}
