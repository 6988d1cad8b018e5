"""Charts of the inspection reports (PNG), labelled in Chinese and English with laiou's CJK font."""

from laiou_assets.charts import png as _png
from laiou_assets.charts import pyplot as _plt


def chart_rows(history: dict[str, dict[str, int]]) -> bytes:
    plt = _plt()
    figure, ax = plt.subplots(figsize=(8, 3.5))
    for feed, by_month in history.items():
        months = sorted(by_month)
        ax.plot(months, [by_month[m] for m in months], marker="o", label=feed)
    ax.set_yscale("log")
    ax.set_title("各月装载行数 / Rows loaded per delivery month")
    ax.tick_params(axis="x", rotation=45)
    if history:  # beside the plot, never over a line
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    return _png(figure)


def chart_quarantine(rows: list[list]) -> bytes:
    plt = _plt()
    figure, ax = plt.subplots(figsize=(8, 2.8))
    if rows:
        ax.barh([f"{feed}: {reason}" for feed, reason, _ in rows], [n for *_, n in rows], color="#c0504d")
    else:
        ax.text(0.5, 0.5, "无隔离行 / no row quarantined", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("隔离行：数据源与原因 / Quarantined rows by feed and reason")
    return _png(figure)


def chart_series(points: list[tuple[str, float]], title: str, unit: str, baseline: float | None = None) -> bytes:
    plt = _plt()
    figure, ax = plt.subplots(figsize=(8, 3))
    if points:
        ax.bar([p for p, _ in points], [v for _, v in points], color="#4f81bd")
    if baseline is not None:
        ax.axhline(
            baseline, color="#c0504d", linestyle="--", label=f"2018年基线 / 2018 baseline ({baseline:g} a month)"
        )
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.set_title(title)
    ax.set_ylabel(unit)
    ax.tick_params(axis="x", rotation=45)
    return _png(figure)
