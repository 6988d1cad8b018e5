"""Charts of the inspection reports (PNG, drawn with matplotlib on its file-only backend)."""

import io


def _png(figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    _plt().close(figure)
    return out.getvalue()


def _plt():
    """pyplot on the file-only backend, imported when a chart is drawn rather than with the definitions."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    # CJK glyphs are not in matplotlib's own fonts: chart labels are English; the report's text is bilingual.
    return plt


def chart_rows(history: dict[str, dict[str, int]]) -> bytes:
    plt = _plt()
    figure, ax = plt.subplots(figsize=(8, 3.5))
    for feed, by_month in history.items():
        months = sorted(by_month)
        ax.plot(months, [by_month[m] for m in months], marker="o", label=feed)
    ax.set_yscale("log")
    ax.set_title("Rows loaded per delivery month")
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
        ax.text(0.5, 0.5, "no row quarantined", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("Quarantined rows by feed and reason")
    return _png(figure)


def chart_series(points: list[tuple[str, float]], title: str, unit: str, baseline: float | None = None) -> bytes:
    plt = _plt()
    figure, ax = plt.subplots(figsize=(8, 3))
    if points:
        ax.bar([p for p, _ in points], [v for _, v in points], color="#4f81bd")
    if baseline is not None:
        ax.axhline(baseline, color="#c0504d", linestyle="--", label=f"2018 baseline ({baseline:g} a month)")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.set_title(title)
    ax.set_ylabel(unit)
    ax.tick_params(axis="x", rotation=45)
    return _png(figure)
