"""The SVG charts: scaling, French labels, accessibility, CSP-clean markup."""

from __future__ import annotations

import datetime as dt
import json

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
    doc = parse(str(bar_chart("m", "Modèles", [("qwen", 50.0), ("llama", 25.5)])))
    meters = doc.select("meter")
    assert [(m["max"], m["value"]) for m in meters] == [("50", "50"), ("50", "25.5")]
    # names and figures are page text, as large as the page's own
    assert [li.get_text(" ", strip=True) for li in doc.select("li")] == [
        "qwen 50 50",
        "llama 25,5 25,5",
    ]
    assert doc.figure["id"] == "m"
    assert doc.figcaption.get_text() == "Modèles"
    assert not inline_code_problems(doc)


def test_a_line_chart_carries_its_series_for_the_browser() -> None:
    chart = line_chart(
        "c",
        "Latence",
        [
            Series("gpu", [(3600.0, 12.5), (7200.0, 14.0)]),
            Series("cpu", [(7200.0, 40.0)]),
        ],
        start=0.0,
        end=7200.0,
        unit="ms",
    )
    data = json.loads(parse(str(chart)).select_one(".chart-plot")["data-chart"])
    assert data["x"] == [3600.0, 7200.0]
    assert [s["values"] for s in data["series"]] == [[12.5, 14.0], [None, 40.0]]
    assert [s["colour"] for s in data["series"]] == ["chart-s0", "chart-s1"]
    assert (data["unit"], data["start"], data["end"]) == ("ms", 0.0, 7200.0)
