"""`kpiwatch backtest --plot`: value, band and firings of each series in one PNG, one panel per series,
because a band is easier to judge by eye than by its numbers."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from kpiwatch.analysis.backtest import Backtest, label
from kpiwatch.errors import ConfigError
from metrics.bands import Verdict

PANEL_HEIGHT, WIDTH = 2.2, 11
MAX_PANELS = 40  # channels come from the data: a picture of 300 panels is read by nobody


def drawn_series(verdicts: list[Verdict]) -> dict[str, list[Verdict]]:
    """One panel per series: the company-wide ones first, then the segments that fired, then the others,
    at most MAX_PANELS."""
    by_series: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_series[label(v)].append(v)

    def order(name: str) -> tuple[bool, bool, str]:
        series = by_series[name]
        return (series[0].segment != "all", not any(v.fired for v in series), name)

    return {name: by_series[name] for name in sorted(by_series, key=order)[:MAX_PANELS]}


def plot_backtest(result: Backtest, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    by_series = drawn_series(result.verdicts)
    if not by_series:
        raise ConfigError(f"Nothing to plot: no verdicts between {result.start} and {result.end}.")
    left_out = len({label(v) for v in result.verdicts}) - len(by_series)
    figure, axes = plt.subplots(
        len(by_series), 1, figsize=(WIDTH, PANEL_HEIGHT * len(by_series)), sharex=True, squeeze=False
    )
    for axis, (name, verdicts) in zip(axes[:, 0], by_series.items(), strict=True):
        days = [v.day for v in verdicts]
        axis.fill_between(
            days,
            [v.lower if v.lower is not None else float("nan") for v in verdicts],
            [v.upper if v.upper is not None else float("nan") for v in verdicts],
            color="#9ecae1",
            alpha=0.6,
            linewidth=0,
            label="band",
        )
        axis.plot(days, [v.value for v in verdicts], color="#08306b", linewidth=1, label="value")
        fired = [v for v in verdicts if v.fired]
        axis.scatter([v.day for v in fired], [v.value for v in fired], color="#d62728", s=18, zorder=3, label="fired")
        for day in result.fixed.get(name, []):
            axis.axvline(day, color="#ff7f0e", linewidth=0.8, alpha=0.7)
        axis.set_title(name, loc="left", fontsize=9)
        axis.tick_params(labelsize=8)
    axes[0, 0].legend(loc="upper left", fontsize=7, ncols=3)
    title = f"kpiwatch backtest {result.start} .. {result.end} (orange lines: fixed thresholds)"
    if left_out:
        title += f"\n{left_out} quiet per-segment series not drawn (--metric SERIES draws one series' segments)"
    height = PANEL_HEIGHT * len(by_series)  # inches; the title takes the top 0.6 inch
    figure.suptitle(title, fontsize=10, y=1 - 0.1 / height, va="top")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.6 / height))
    try:
        figure.savefig(path, dpi=110)
    except OSError as error:
        raise ConfigError(f"--plot {str(path)!r} cannot be written: {error.strerror}.") from None
    finally:
        plt.close(figure)
    return path
