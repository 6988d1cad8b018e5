"""matplotlib for laiou's charts: the file-only backend and a CJK font, so Chinese labels draw as Chinese.

The font ships with the project (laiou_assets/fonts/, a GB 2312 subset of Noto Sans CJK SC, OFL): a fresh
machine needs no system font. DejaVu Sans (matplotlib's own) draws Latin text; the CJK font every glyph
DejaVu lacks (matplotlib's per-glyph fallback).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

FONT = Path(__file__).resolve().parent / "fonts" / "NotoSansCJKsc-Regular-GB2312.otf"


@cache
def pyplot():
    """pyplot on the Agg backend with the CJK font registered, imported when a chart is drawn (never with the
    definitions)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(FONT))
    cjk = font_manager.FontProperties(fname=str(FONT)).get_name()
    plt.rcParams["font.family"] = ["DejaVu Sans", cjk]
    plt.rcParams["axes.unicode_minus"] = False  # the CJK font has no U+2212; keep the ASCII minus
    return plt


def png(figure) -> bytes:
    """The figure as PNG bytes, closed after."""
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    pyplot().close(figure)
    return out.getvalue()
