"""The generator at a small share of the seed scale reproduces the 2018 report's proportions exactly."""

from laiou_assets.generate.landing_zone import LAIOU_CUMULATIVE_2018, LAIOU_NEW_2018, GeneratorConfig, generate
from tests.recount import summary_by_year


def test_seed_scale_reproduces_the_2018_laiou_figures_when_recounted_by_the_rules(tmp_path):
    scale = 0.001
    cfg = GeneratorConfig.seed_scale(scale, seed=11)
    assert (cfg.first_month, cfg.last_month) == ("2010-01", "2018-12")
    generate(tmp_path, cfg, progress=lambda _: None)

    recount = summary_by_year(tmp_path).set_index("year")
    assert recount.index.min() == 2010 and recount.index.max() == 2018
    assert recount.loc[2018, "cumulative"] == round(LAIOU_CUMULATIVE_2018 * scale) == 1250
    assert recount.loc[2018, "new"] == round(LAIOU_NEW_2018 * scale) == 218
    assert (recount.cumulative.diff().dropna() >= 0).all()  # history: the population grows year on year
    assert recount.loc[2017, "tax_wan"] > 0 and recount.loc[2015, "tax_wan"] == 0  # tax deliveries from 2018-01
    assert (tmp_path / "tax_payment" / "201801").exists() and not (tmp_path / "tax_payment" / "201712").exists()
