"""The SVG charts: scaling, French labels, accessibility, CSP-clean markup."""

from __future__ import annotations

import datetime as dt

from web_support import inline_code_problems, parse

from ollama_webmgr.web.charts import Series, bar_chart, line_chart

DAY = 86400.0
START = 1_763_769_600.0  # 2025-11-22 00:00 UTC


def test_line_chart_places_points_on_the_scale_and_labels_in_french() -> None:
    chart = line_chart(
        "c",
        "Latence <moyenne>",
        [Series("gpu-a", [(START, 0.0), (START + DAY, 100.0)])],
        start=START,
        end=START + DAY,
        unit="ms",
        tz=dt.UTC,
    )
    doc = parse(str(chart))
    # x from 44 to 350, y from 174 (0) to 12 (100)
    assert doc.select_one("polyline")["points"] == "44.0,174.0 350.0,12.0"
    labels = [t.get_text() for t in doc.select("text")]
    assert labels[:2] == ["0 ms", "25 ms"]
    assert "22/11/2025" in labels
    assert "23/11/2025" in labels
    assert doc.select_one("title").get_text() == "Latence <moyenne>"
    assert "max 100 ms" in doc.select_one("desc").get_text()
    rows = [r.get_text(" ", strip=True) for r in doc.select("details tbody tr")]
    assert rows == ["22/11/2025 0", "23/11/2025 100"]
    assert not inline_code_problems(doc)


def test_hourly_chart_uses_hours_and_a_legend_for_several_series() -> None:
    chart = line_chart(
        "c",
        "Disponibilité",
        [Series("a", [(START, 99.5)]), Series("b", [])],
        start=START,
        end=START + DAY,
        unit="%",
        y_max=100.0,
        hourly=True,
        tz=dt.UTC,
    )
    doc = parse(str(chart))
    assert [t.get_text() for t in doc.select("text")][-5:] == [
        "00:00",
        "06:00",
        "12:00",
        "18:00",
        "00:00",
    ]
    assert [li.get_text(strip=True) for li in doc.select(".chart-legend li")] == [
        "a",
        "b",
    ]
    assert doc.select_one("circle") is not None  # a lone point is still drawn
    assert "b : aucune donnée" in doc.select_one("desc").get_text()
    assert doc.select_one("tbody td").get_text() == "99,5"


def test_bar_chart_scales_bars_to_the_largest_value() -> None:
    doc = parse(str(bar_chart("m", "Modèles", [("qwen", 50.0), ("llama", 25.0)])))
    widths = [float(r["width"]) for r in doc.select("rect")]
    assert widths == [290.0, 145.0]
    assert doc.svg["viewbox"] == "0 0 360 68"
    assert doc.svg["role"] == "img"
    assert not inline_code_problems(doc)
