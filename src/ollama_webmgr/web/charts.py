"""Charts of the supervision pages: time charts and horizontal bars.

A time chart is a ``<figure>`` holding its caption, a ``div.chart-plot`` whose
``data-chart`` attribute carries the series as JSON, a server-rendered
``<svg role="img">`` inside it (labelled by its ``<title>`` and ``<desc>``), the
legend, and a ``<details>`` table with the figures for screen readers and for
anyone who wants the numbers. In the browser ``assets/charts.js`` draws the
series with uPlot in place of the SVG: text at its real size at any width and
a tooltip under the pointer or the finger. Without script the SVG stays (a
``viewBox`` 360 units wide, the width of a phone).

Bars are HTML ``<meter>`` elements: full-size text on every screen, no script.
Nothing a strict CSP blocks: colours come from CSS classes (``chart-s0`` ...
``chart-s5`` in ``app.css``), never from ``style=""``. Labels are French:
dates ``JJ/MM/AAAA`` (``HH:MM`` for a 24 h window), decimal commas.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

# re-exported: the supervision templates format their figures with it
from ollama_webmgr.web.formatting import fr_number as fr_number

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 26
BAR_ROW = 26
COLOURS = 6

Point = tuple[float, float]


@dataclass(frozen=True)
class Series:
    """One line: ``points`` are ``(epoch seconds, value)``, gaps allowed."""

    label: str
    points: Sequence[Point]


def linear_scale(
    domain: tuple[float, float], out: tuple[float, float]
) -> Callable[[float], float]:
    """Map ``domain`` onto ``out`` linearly (a flat domain maps to its middle).

    >>> scale = linear_scale((0, 100), (180, 20))
    >>> scale(0), scale(50), scale(100)
    (180.0, 100.0, 20.0)
    >>> linear_scale((5, 5), (0, 10))(5)
    5.0
    """
    lo, hi = domain
    a, b = out
    if hi == lo:
        return lambda _value: (a + b) / 2
    ratio = (b - a) / (hi - lo)
    return lambda value: a + (value - lo) * ratio


def nice_step(span: float, count: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` ticks.

    >>> nice_step(100), nice_step(7), nice_step(0.3), nice_step(0)
    (25.0, 2.0, 0.1, 1.0)
    """
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round values covering ``[lo, hi]``: the first <= lo, the last >= hi.

    >>> nice_ticks(0, 100)
    [0.0, 25.0, 50.0, 75.0, 100.0]
    >>> nice_ticks(3, 17)
    [0.0, 5.0, 10.0, 15.0, 20.0]
    >>> nice_ticks(4, 4)
    [4.0, 5.0]
    """
    step = nice_step(hi - lo, count)
    first = math.floor(lo / step) * step
    ticks = [first]
    while ticks[-1] < hi or len(ticks) < 2:
        ticks.append(round(ticks[-1] + step, 10))
    return [float(t) for t in ticks]


def time_label(ts: float, hourly: bool, tz: dt.tzinfo | None = None) -> str:
    """``HH:MM`` for 24 h charts, ``JJ/MM/AAAA`` otherwise.

    >>> time_label(1_700_000_000, True, dt.UTC), time_label(1_700_000_000, False, dt.UTC)
    ('22:13', '14/11/2023')
    """
    moment = dt.datetime.fromtimestamp(ts, tz or dt.UTC)
    return moment.strftime("%H:%M" if hourly else "%d/%m/%Y")


def time_ticks(start: float, end: float, count: int = 4) -> list[float]:
    """Evenly spaced instants on whole hours (or days for long windows).

    >>> day = 86400
    >>> [t / 3600 for t in time_ticks(0, day)]
    [0.0, 6.0, 12.0, 18.0, 24.0]
    >>> [t / day for t in time_ticks(0, 30 * day)]
    [0.0, 8.0, 16.0, 24.0]
    """
    unit = 3600 if end - start <= 2 * 86400 else 86400
    step = max(1, math.ceil((end - start) / unit / count)) * unit
    first = math.ceil(start / unit) * unit
    return [float(t) for t in range(int(first), int(end) + 1, step)]


def _text(x: float, y: float, content: str, anchor: str, cls: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">'
        f"{escape(content)}</text>"
    )


def _frame(chart_id: str, title: str, summary: str, body: list[str]) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>' + "".join(body) + "</svg>"
    )


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    start: float,
    end: float,
    unit: str = "",
    y_max: float | None = None,
    area: bool = False,
    hourly: bool = False,
    tz: dt.tzinfo | None = None,
    decimals: int = 1,
) -> Markup:
    """A time chart of one or more series; ``area`` fills under single series."""
    values = [v for s in series for _, v in s.points]
    top = max([*values, y_max or 0.0, 1e-9])
    ticks = nice_ticks(0.0, y_max if y_max is not None else top)
    x = linear_scale((start, end), (LEFT, WIDTH - RIGHT))
    y = linear_scale((ticks[0], ticks[-1]), (HEIGHT - BOTTOM, TOP))
    body = _axes(ticks, y, x, start, end, unit, hourly, tz, decimals)
    for index, one in enumerate(series):
        body += _line(one, x, y, f"chart-s{index % COLOURS}", area)
    summary = _summary(series, unit, hourly, tz, decimals)
    legend = _legend(series)
    table = _series_table(chart_id, title, series, unit, hourly, tz, decimals)
    svg = _frame(chart_id, title, summary, body)
    caption = f'<figcaption class="chart-caption">{escape(title)}</figcaption>'
    data = _payload(series, unit, y_max, area, hourly, decimals, (start, end))
    plot = f'<div class="chart-plot" data-chart="{escape(data)}">{svg}</div>'
    return Markup(
        f'<figure class="chart-figure">{caption}{plot}{legend}{table}</figure>'
    )


def _payload(
    series: Sequence[Series],
    unit: str,
    y_max: float | None,
    area: bool,
    hourly: bool,
    decimals: int,
    window: tuple[float, float],
) -> str:
    """The series as ``assets/charts.js`` reads them: one time axis, gaps null.

    >>> json.loads(_payload([Series("a", [(10, 1.0)]), Series("b", [(20, 2.0)])],
    ...     "%", 100.0, False, True, 1, (0, 30)))["series"][1]["values"]
    [None, 2.0]
    """
    stamps = sorted({t for one in series for t, _ in one.points})
    return json.dumps(
        {
            "x": stamps,
            "series": [
                {
                    "label": one.label,
                    "values": [dict(one.points).get(t) for t in stamps],
                    "colour": f"chart-s{index % COLOURS}",
                }
                for index, one in enumerate(series)
            ],
            "unit": unit,
            "yMax": y_max,
            "area": area and len(series) == 1,
            "hourly": hourly,
            "decimals": decimals,
            "start": window[0],
            "end": window[1],
        },
        separators=(",", ":"),
    )


def _axes(
    ticks: list[float],
    y: Callable[[float], float],
    x: Callable[[float], float],
    start: float,
    end: float,
    unit: str,
    hourly: bool,
    tz: dt.tzinfo | None,
    decimals: int,
) -> list[str]:
    parts = []
    for tick in ticks:
        ty = y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'class="chart-grid" stroke="#e2e8f0" stroke-width="1"/>'
        )
        label = fr_number(tick, decimals) + (f" {unit}" if unit else "")
        parts.append(_text(LEFT - 4, ty + 4, label, "end", "chart-label"))
    # a date (JJ/MM/AAAA) is about 60 units wide: three fit in 316 units
    half = 16 if hourly else 31
    for tick in time_ticks(start, end, 4 if hourly else 3):
        tx = min(max(x(tick), LEFT + half), WIDTH - RIGHT - half)
        label = time_label(tick, hourly, tz)
        parts.append(_text(tx, HEIGHT - 8, label, "middle", "chart-label"))
    return parts


def _line(
    one: Series,
    x: Callable[[float], float],
    y: Callable[[float], float],
    cls: str,
    area: bool,
) -> list[str]:
    points = sorted(one.points)
    if not points:
        return []
    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    parts = []
    if area and len(points) > 1:
        base = y(0.0)
        outline = f"{x(points[0][0]):.1f},{base:.1f} {coords} {x(points[-1][0]):.1f},{base:.1f}"
        parts.append(
            f'<polygon points="{outline}" class="chart-area {cls}" '
            'fill="currentColor" fill-opacity="0.15" stroke="none"/>'
        )
    if len(points) == 1:
        px, py = x(points[0][0]), y(points[0][1])
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" class="{cls}" '
            'fill="currentColor"/>'
        )
    else:
        parts.append(
            f'<polyline points="{coords}" class="chart-line {cls}" fill="none" '
            'stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>'
        )
    return parts


def _summary(
    series: Sequence[Series],
    unit: str,
    hourly: bool,
    tz: dt.tzinfo | None,
    decimals: int,
) -> str:
    parts = []
    for one in series:
        values = [v for _, v in one.points]
        if not values:
            parts.append(f"{one.label} : aucune donnée")
            continue
        suffix = f" {unit}" if unit else ""
        parts.append(
            f"{one.label} : min {fr_number(min(values), decimals)}{suffix}, "
            f"max {fr_number(max(values), decimals)}{suffix}, "
            f"dernière valeur {fr_number(sorted(one.points)[-1][1], decimals)}{suffix}"
        )
    return " ; ".join(parts) + "."


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    items = "".join(
        f'<li><svg viewBox="0 0 10 10" width="10" height="10" aria-hidden="true">'
        f'<rect width="10" height="10" class="chart-s{i % COLOURS}" '
        f'fill="currentColor"/></svg> {escape(s.label)}</li>'
        for i, s in enumerate(series)
    )
    return f'<ul class="chart-legend">{items}</ul>'


def _series_table(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    unit: str,
    hourly: bool,
    tz: dt.tzinfo | None,
    decimals: int,
) -> str:
    stamps = sorted({t for s in series for t, _ in s.points})
    by_series = [dict(s.points) for s in series]
    head = "".join(f'<th scope="col">{escape(s.label)}</th>' for s in series)
    rows = []
    for stamp in stamps:
        label = time_label(stamp, False, tz)
        if hourly:
            label += " " + time_label(stamp, True, tz)
        cells = "".join(
            f"<td>{fr_number(v[stamp], decimals) if stamp in v else '—'}</td>"
            for v in by_series
        )
        rows.append(f'<tr><th scope="row">{label}</th>{cells}</tr>')
    caption = escape(title) + (f" ({escape(unit)})" if unit else "")
    return (
        f'<details class="chart-data"><summary>Voir les données</summary>'
        # a wide table (one column per server) scrolls in its card, not the page
        f'<div class="chart-data-scroll"><table id="{chart_id}-table">'
        f"<caption>{caption}</caption>"
        f'<thead><tr><th scope="col">Date</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    decimals: int = 1,
) -> Markup:
    """Horizontal bars, one row per label: HTML ``<meter>`` elements, so labels
    and figures are page text (readable at any width, long names wrap)."""
    top = max([v for _, v in bars] + [1e-9])
    suffix = f" {unit}" if unit else ""
    rows = "".join(
        # a long name may wrap after « : », never inside a word
        f'<li><span class="chart-bar-label">{escape(label).replace(":", ":<wbr>")}</span>'
        f'<span class="chart-bar-row"><meter class="chart-meter chart-s{i % COLOURS}"'
        f' min="0" max="{top:g}" value="{value:g}"'
        f' aria-label="{escape(label)}">{fr_number(value, decimals)}</meter>'
        f'<span class="chart-bar-value">{fr_number(value, decimals)}{suffix}</span>'
        "</span></li>"
        for i, (label, value) in enumerate(bars)
    )
    empty = "" if bars else '<p class="text-sm text-slate-700">Aucune donnée.</p>'
    caption = f'<figcaption class="chart-caption">{escape(title)}</figcaption>'
    return Markup(
        f'<figure id="{chart_id}" class="chart-figure">{caption}'
        f'<ol class="chart-bars">{rows}</ol>{empty}</figure>'
    )
