# mypy: disable-error-code="import-not-found", allow-untyped-decorators, allow-subclassing-any
# (The peers live in bench/.venv-peers; kettle's own mypy runs without them installed.)
"""The PNG bar chart of a run: one panel per track, scenarios grouped, a bar per framework.

Requests/s on a log scale (the figures span from hundreds to a hundred thousand), with
min-max whiskers; kettle's bars are drawn in a warm colour family and hatched, the raw
ceilings in grey, the peers in cool colours, so kettle stands out without a legend hunt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.suite import frameworks as fws
from bench.suite.results import Results
from bench.suite.scenarios import SCENARIOS


def _colours(names: list[str]) -> dict[str, Any]:
    """kettle in reds and oranges, the ceilings in greys, each peer its own hue."""
    from matplotlib import colormaps

    kettles = colormaps["autumn"]
    greys = colormaps["Greys"]
    peers = colormaps["tab20"]
    colours: dict[str, Any] = {}
    counts = {"kettle": 0, "ceiling": 0, "peer": 0}
    for name in names:
        framework = fws.BY_NAME[name]
        if framework.label == "kettle":
            colours[name] = kettles(0.1 + 0.35 * counts["kettle"])
            counts["kettle"] += 1
        elif framework.is_ceiling:
            colours[name] = greys(0.3 + 0.1 * counts["ceiling"])
            counts["ceiling"] += 1
        else:
            # tab20 without its oranges, reds (kettle's) and greys (the ceilings').
            hues = (0, 1, 4, 5, 8, 9, 10, 11, 12, 13, 16, 17, 18, 19)
            colours[name] = peers(hues[counts["peer"] % len(hues)])
            counts["peer"] += 1
    return colours


def draw(results: Results, path: Path) -> Path:
    """Write the chart of ``results`` to ``path`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    tracks = results.tracks()
    names = [fw.name for fw in fws.FRAMEWORKS if any(results.has(t, fw.name) for t in tracks)]
    scenarios = [s.name for s in SCENARIOS if any(r["scenario"] == s.name for r in results.runs)]
    if not tracks or not names or not scenarios:
        raise ValueError("nothing measured to draw")
    figure, axes = plt.subplots(
        len(tracks),
        1,
        figsize=(max(10, 1.9 * len(scenarios) + 4), 5.2 * len(tracks)),
        squeeze=False,
    )
    width = 0.84 / len(names)
    colours = _colours(names)
    for row, track in enumerate(tracks):
        ax = axes[row][0]
        for i, name in enumerate(names):
            xs, heights, low, high = [], [], [], []
            for x, scenario in enumerate(scenarios):
                summary = results.summary(track, name, scenario)
                if summary is None:
                    continue
                xs.append(x - 0.42 + width * (i + 0.5))
                heights.append(summary.median)
                low.append(summary.median - summary.low)
                high.append(summary.high - summary.median)
            if not xs:
                continue
            kettle = fws.BY_NAME[name].label == "kettle"
            ax.bar(
                xs,
                heights,
                width,
                yerr=[low, high],
                label=name,
                color=colours[name],
                edgecolor="black" if kettle else "none",
                hatch="//" if kettle else None,
                linewidth=0.6,
                error_kw={"elinewidth": 0.6, "capsize": 1.5},
            )
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:g}k"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
        ax.set_xticks(range(len(scenarios)), scenarios)
        ax.set_ylabel("requests/s (median, log scale)")
        ax.set_title(f"{track} track")
        ax.grid(axis="y", which="both", alpha=0.25)
    axes[0][0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    figure.suptitle(f"kettle side by side — {results.meta.get('started', '')}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
